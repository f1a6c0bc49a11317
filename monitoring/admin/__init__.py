"""Django admin for the OT side: devices, their signal maps and health."""

from monitoring.admin import alerts, devices, notes, preferences  # noqa: F401  (registering is the import's effect)
