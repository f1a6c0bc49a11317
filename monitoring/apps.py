from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Monitoring (devices, history, live data)"

    def ready(self) -> None:
        from monitoring import orders

        # Parts follow the run windows of work orders, however an order is saved.
        orders.connect()
