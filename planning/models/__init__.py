from planning.models.calendar import Break, CalendarException, ExceptionKind, Shift, ShiftPattern  # noqa: F401
from planning.models.orders import Product, ProductCycleTime, WorkOrder, WorkOrderStatus  # noqa: F401
