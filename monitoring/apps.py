from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Monitoring (devices, history, live data)"

    def ready(self) -> None:
        from monitoring import orders
        from monitoring.models import ModbusDevice, OpcUaEndpoint, SignalBinding
        from planning.audit import track

        # Parts follow the run windows of work orders, however an order is saved.
        orders.connect()
        # Devices and signal maps are configuration: their changes go into the audit trail.
        track(ModbusDevice, exclude=["updated"])
        track(OpcUaEndpoint, exclude=["updated"])
        track(SignalBinding)
