"""Django admin for what the plant intends: equipment, reasons, calendars, products and work orders."""

from planning.admin import accounts, audit, calendar, clients, displays, orders, plant  # noqa: F401  (registering is the import's effect)
