from django.apps import AppConfig


class PlanningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "planning"
    verbose_name = "Planning (plant, reasons, shifts, products, work orders)"

    def ready(self) -> None:
        from planning import audit, schedule

        audit.track_planning()
        schedule.forget_patterns_on_change()
