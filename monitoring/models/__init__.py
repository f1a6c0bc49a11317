from monitoring.models.plant import (  # noqa: F401
    Area,
    DowntimeReason,
    FaultCode,
    LossCategory,
    Line,
    Machine,
    QualityCounter,
    Site,
)
from monitoring.models.history import (  # noqa: F401
    CountBucket,
    DERIVED_EVENT_KINDS,
    EventKind,
    MachineStatus,
    Signal,
    Event,
    Observation,
    StateInterval,
)
from monitoring.models.devices import (  # noqa: F401
    DataType,
    DeviceHealth,
    ModbusDevice,
    OpcUaEndpoint,
    RegisterTable,
    SecurityMode,
    SecurityPolicy,
    SignalBinding,
    WordOrder,
)
