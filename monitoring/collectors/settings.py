"""What a collector's session needs, as plain values: what a device model hands its collector.

No Django and no protocol library here, so a device model can build these without loading
pymodbus or asyncua; the collector classes are loaded only where collection runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitoring.lib.registers import RegisterBinding


@dataclass(frozen=True)
class ModbusSettings:
    """A session with one Modbus TCP device; bindings are keyed by (machine code, signal)."""

    code: str
    host: str
    port: int = 502
    unit_id: int = 1
    word_order: str = "big"
    byte_order: str = "big"
    timeout: float = 2.0
    retries: int = 1
    bindings: tuple[RegisterBinding, ...] = field(default=())


@dataclass(frozen=True)
class NodeBinding:
    """One canonical signal of one machine, read from one node (optionally one bit of it, or scaled)."""

    machine_code: str
    signal: str
    node_id: str
    bit: int | None = None
    scale: float = 1.0
    offset: float = 0.0

    def describe(self) -> str:
        return f"{self.machine_code}.{self.signal} ({self.node_id})"


@dataclass(frozen=True)
class OpcUaSettings:
    """A session with one OPC UA endpoint (the field names and defaults of the `OpcUaEndpoint` model)."""

    url: str
    code: str = "opcua"
    security_mode: str = "None"
    security_policy: str = "None"
    client_certificate: str = ""
    # Secrets stay out of the text form, which may end up in a log (the version uses every field).
    client_private_key: str = field(default="", repr=False)
    server_certificate: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    publishing_interval: float = 0.5
    sampling_interval: float = 0.25
    timeout: float = 2.0
    bindings: tuple[NodeBinding, ...] = field(default=())
