from planning.models.calendar import Break, CalendarException, ExceptionKind, Shift, ShiftPattern  # noqa: F401
from planning.models.clients import ApiClient, ApiKey, ApiWrite, Scope  # noqa: F401
from planning.models.displays import LineDisplay  # noqa: F401
from planning.models.orders import (  # noqa: F401
    OPEN_STATUSES,
    Product,
    ProductCycleTime,
    WorkOrder,
    WorkOrderMove,
    WorkOrderPause,
    WorkOrderStatus,
    fastest_cycle_time,
    fastest_cycle_times,
    ideal_cycle_times,
)
from planning.models.outbox import (  # noqa: F401
    DeliveryStatus,
    EventType,
    OutboxEvent,
    OutboxLock,
    WebhookDelivery,
    WebhookSubscription,
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
