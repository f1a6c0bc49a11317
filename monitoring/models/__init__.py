from monitoring.models.alerts import (  # noqa: F401
    Alert,
    AlertEscalation,
    AlertKind,
    AlertRule,
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
from monitoring.models.history import (  # noqa: F401
    DERIVED_EVENT_KINDS,
    CountBucket,
    Event,
    EventKind,
    MachineStatus,
    Observation,
    ProjectionVersion,
    Signal,
    StateInterval,
)
from monitoring.models.notes import HandoverNote, StopComment  # noqa: F401
from monitoring.models.preferences import UserPreferences  # noqa: F401
from monitoring.models.rollups import (  # noqa: F401
    HOUR,
    MachineHour,
    OrderHour,
    PrunedObservations,
    forget,
    hour_of,
)
