from planning.models.calendar import Break, CalendarException, ExceptionKind, Shift, ShiftPattern  # noqa: F401
from planning.models.orders import (  # noqa: F401
    Product,
    ProductCycleTime,
    WorkOrder,
    WorkOrderStatus,
    fastest_cycle_time,
    ideal_cycle_times,
)
from planning.models.plant import (  # noqa: F401
    Area,
    DowntimeReason,
    FaultCode,
    Line,
    LossCategory,
    Machine,
    QualityCounter,
    Site,
    code_validator,
)
