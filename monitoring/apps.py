from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = _("Monitoring (devices, history, live data)")

    def ready(self) -> None:
        from monitoring import orders, rollup_signals
        from monitoring.models import AlertEscalation, AlertRule, ModbusDevice, OpcUaEndpoint, SignalBinding
        from planning.audit import track

        # Parts follow the run windows of work orders, however an order is saved.
        orders.connect()
        # Rollups of hours whose configuration changed are dropped, however it changes.
        rollup_signals.connect()
        # Alert rules are configuration too: who is told of what.
        track(AlertRule, m2m=["users"])
        track(AlertEscalation, m2m=["users"])
        # Devices and signal maps are configuration: their changes go into the audit trail.
        track(ModbusDevice, exclude=["updated"])
        track(OpcUaEndpoint, exclude=["updated"])
        track(SignalBinding)
        # What people write beside the figures is kept with who wrote, changed or deleted it.
        from monitoring.models import HandoverNote, StopComment
        track(HandoverNote)
        track(StopComment)
