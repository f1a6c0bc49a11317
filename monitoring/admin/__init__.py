"""Django admin for the OT side: the plant hierarchy, reasons, devices and their signal maps."""

from monitoring.admin import devices, plant  # noqa: F401  (registering is the import's effect)
