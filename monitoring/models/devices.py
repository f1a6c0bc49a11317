"""Devices the collectors read (Modbus TCP, OPC UA) and the maps from their data to signals.

Each device model knows its collector: it gives the collector's plain settings
(`collector_settings`), the host's spec to run it (`device_spec`), and reads its map once for
the admin (`read_now`). The collector classes themselves are loaded only where they run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import astuple
from functools import partial
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.module_loading import import_string

from monitoring.collectors.base import ProbeRow, run_probe
from monitoring.collectors.records import DeviceSpec
from monitoring.collectors.settings import ModbusSettings, NodeBinding, OpcUaSettings
from monitoring.lib.addresses import host_problem, opcua_url_problem, port_problem
from monitoring.lib.registers import COIL, DISCRETE, RegisterBinding, RegisterMapError
from monitoring.models.history import Signal
from planning.encryption import EncryptedTextField
from planning.models import Machine, code_validator

HOUR = 3600
"""The longest interval, back-off or period of a device (seconds): 1e308 was accepted and the device then
never read again, silently."""


class DeviceQuerySet(models.QuerySet):
    def enabled(self) -> DeviceQuerySet:
        return self.filter(enabled=True)


class Device(models.Model):
    """Settings every device has; the protocol-specific ones, and its collector, are in the subclasses."""

    kind: ClassVar[str]
    collector_path: ClassVar[str]
    """Dotted path of its `Collector` subclass."""
    binding_field: ClassVar[str]
    """The field of `SignalBinding` that points at this kind of device."""

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120, blank=True)
    enabled = models.BooleanField(default=True)
    scan_interval = models.FloatField(default=1.0, validators=[MinValueValidator(0.05), MaxValueValidator(HOUR)],
                                      help_text="Seconds.")
    timeout = models.FloatField(default=2.0, validators=[MinValueValidator(0.05), MaxValueValidator(300)],
                                help_text="Seconds per request.")
    reconnect_backoff = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.05), MaxValueValidator(HOUR)],
        help_text="First wait in seconds before reconnecting; doubles (with jitter) up to 60 s.",
    )
    updated = models.DateTimeField(auto_now=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def collector_settings(self, bindings: list[SignalBinding]) -> ModbusSettings | OpcUaSettings:
        """What a session with this device needs, from its bindings (with `machine` loaded)."""
        raise NotImplementedError

    def device_spec(self, bindings: list[SignalBinding]) -> DeviceSpec:
        """The device as the collector host runs it. Raises RegisterMapError for a map it cannot read."""
        settings = self.collector_settings(bindings)
        machines = {b.machine.code: b.machine.expected_interval for b in bindings}
        # astuple: every field, the secrets too (a new password must rebuild the session), which repr leaves out.
        version = repr((astuple(settings), self.scan_interval, self.reconnect_backoff, sorted(machines.items())))
        return DeviceSpec(
            kind=self.kind, code=self.code, scan_interval=self.scan_interval,
            reconnect_backoff=self.reconnect_backoff, machines=machines,
            factory=partial(import_string(self.collector_path), settings),
            version=hashlib.sha1(version.encode()).hexdigest()[:16],
        )

    def read_now(self) -> list[ProbeRow]:
        """Read every bound signal once (the admin's "read now"): a row per binding, nothing stored."""
        bindings = list(self.bindings.select_related("machine").order_by("machine__code", "signal"))
        if not bindings:
            return []
        try:
            settings = self.collector_settings(bindings)
        except RegisterMapError as error:
            return [ProbeRow(b.machine.code, b.signal, None, None, str(error)) for b in bindings]
        return run_probe(import_string(self.collector_path).probe(settings))


class WordOrder(models.TextChoices):
    BIG = "big", "Big endian (high word first)"
    LITTLE = "little", "Little endian (low word first)"


class ModbusDevice(Device):
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=502, validators=[MaxValueValidator(65535)])
    unit_id = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(255)])
    word_order = models.CharField(max_length=6, choices=WordOrder.choices, default=WordOrder.BIG)
    byte_order = models.CharField(max_length=6, choices=WordOrder.choices, default=WordOrder.BIG)
    retries = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(10)])

    kind = "modbus"
    collector_path = "monitoring.collectors.modbus.ModbusCollector"
    binding_field = "modbus_device"

    class Meta(Device.Meta):
        verbose_name = "Modbus TCP device"

    def clean(self) -> None:
        # The field validators leave a port of 0, and any text as a host (the admin once saved "06:00").
        # (An empty field is reported by the field itself.)
        errors = {name: problem for name, problem in (
            ("host", host_problem(self.host) if self.host else None),
            ("port", port_problem(self.port) if self.port is not None else None),
        ) if problem}
        if errors:
            raise ValidationError(errors)

    def collector_settings(self, bindings: list[SignalBinding]) -> ModbusSettings:
        return ModbusSettings(
            code=self.code, host=self.host, port=self.port, unit_id=self.unit_id, word_order=self.word_order,
            byte_order=self.byte_order, timeout=self.timeout, retries=self.retries,
            bindings=tuple(
                RegisterBinding(
                    key=(binding.machine.code, binding.signal), table=binding.table, address=binding.address,
                    data_type=binding.data_type or ("bool" if binding.table in (COIL, DISCRETE) else "uint16"),
                    bit=binding.bit, scale=binding.scale, offset=binding.offset,
                )
                for binding in bindings
            ),
        )


class SecurityMode(models.TextChoices):
    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class SecurityPolicy(models.TextChoices):
    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128Sha256RsaOaep"
    AES256_SHA256_RSAPSS = "Aes256Sha256RsaPss"


class OpcUaEndpoint(Device):
    url = models.CharField(max_length=255, help_text="e.g. opc.tcp://10.0.0.5:4840/")
    security_mode = models.CharField(max_length=16, choices=SecurityMode.choices, default=SecurityMode.NONE)
    security_policy = models.CharField(max_length=24, choices=SecurityPolicy.choices, default=SecurityPolicy.NONE)
    client_certificate = models.TextField(blank=True, help_text="PEM, for Sign and SignAndEncrypt.")
    client_private_key = EncryptedTextField(blank=True, help_text="PEM, for Sign and SignAndEncrypt. Stored encrypted.")
    server_certificate = models.TextField(blank=True, help_text="PEM of the server, to trust it explicitly.")
    username = models.CharField(max_length=120, blank=True)
    password = EncryptedTextField(max_length=120, blank=True, help_text="Stored encrypted.")
    publishing_interval = models.FloatField(default=0.5, validators=[MinValueValidator(0.01), MaxValueValidator(HOUR)],
                                            help_text="Seconds.")
    sampling_interval = models.FloatField(default=0.25, validators=[MinValueValidator(0), MaxValueValidator(HOUR)],
                                          help_text="Seconds.")

    kind = "opcua"
    collector_path = "monitoring.collectors.opcua.OpcUaCollector"
    binding_field = "opcua_endpoint"

    class Meta(Device.Meta):
        verbose_name = "OPC UA endpoint"

    def collector_settings(self, bindings: list[SignalBinding]) -> OpcUaSettings:
        return OpcUaSettings(
            url=self.url, code=self.code, security_mode=self.security_mode, security_policy=self.security_policy,
            client_certificate=self.client_certificate, client_private_key=self.client_private_key,
            server_certificate=self.server_certificate, username=self.username, password=self.password,
            publishing_interval=self.publishing_interval, sampling_interval=self.sampling_interval,
            timeout=self.timeout,
            bindings=tuple(
                NodeBinding(b.machine.code, b.signal, b.node_id, b.bit, b.scale, b.offset)
                for b in bindings if b.node_id
            ),
        )

    def clean(self) -> None:
        problem = opcua_url_problem(self.url) if self.url else None
        if problem:
            raise ValidationError({"url": problem})
        secure = self.security_mode != SecurityMode.NONE
        if secure and self.security_policy == SecurityPolicy.NONE:
            raise ValidationError({"security_policy": f"Mode {self.security_mode} needs a security policy."})
        if not secure and self.security_policy != SecurityPolicy.NONE:
            raise ValidationError({"security_mode": "A security policy needs mode Sign or SignAndEncrypt."})
        if secure and not (self.client_certificate and self.client_private_key):
            raise ValidationError({"client_certificate": "Sign and SignAndEncrypt need a client certificate and key."})


class RegisterTable(models.TextChoices):
    HOLDING = "holding", "Holding registers (4x)"
    INPUT = "input", "Input registers (3x)"
    COIL = "coil", "Coils (0x)"
    DISCRETE = "discrete", "Discrete inputs (1x)"


class DataType(models.TextChoices):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT64 = "float64"


class SignalBinding(models.Model):
    """Where one canonical signal of a machine is read: a Modbus register or an OPC UA node."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="signal_bindings")
    signal = models.CharField(max_length=16, choices=[c for c in Signal.choices if c[0] != Signal.SCRAP])
    modbus_device = models.ForeignKey(
        ModbusDevice, null=True, blank=True, on_delete=models.CASCADE, related_name="bindings"
    )
    opcua_endpoint = models.ForeignKey(
        OpcUaEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="bindings"
    )
    table = models.CharField(max_length=10, choices=RegisterTable.choices, blank=True)
    address = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(65535)])
    data_type = models.CharField(max_length=8, choices=DataType.choices, blank=True)
    bit = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(63)], help_text="Read one bit of the value (0 = least significant)."
    )
    scale = models.FloatField(default=1.0)
    offset = models.FloatField(default=0.0)
    node_id = models.CharField(max_length=255, blank=True, help_text="e.g. ns=2;s=Line1.Filler.Running")

    class Meta:
        ordering = ["machine", "signal"]
        constraints = [
            models.UniqueConstraint(fields=["machine", "signal"], name="one_binding_per_signal"),
            models.CheckConstraint(
                condition=models.Q(modbus_device__isnull=True) | models.Q(opcua_endpoint__isnull=True),
                name="binding_has_one_device",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.machine.code}.{self.signal}"

    @property
    def device(self) -> ModbusDevice | OpcUaEndpoint | None:
        return self.modbus_device or self.opcua_endpoint

    def clean(self) -> None:
        # The related objects, not their ids: a plant file checks bindings of devices not yet saved.
        has_modbus = self.modbus_device is not None
        has_opcua = self.opcua_endpoint is not None
        if has_modbus == has_opcua:
            raise ValidationError("Choose exactly one device: a Modbus TCP device or an OPC UA endpoint.")
        errors: dict[str, str] = {}
        if has_modbus:
            if self.node_id:
                errors["node_id"] = "A node id is for OPC UA bindings; a Modbus binding has a table and address."
            errors.update(modbus_address_errors(self))
        else:
            for name in ("table", "address"):
                if getattr(self, name) not in (None, ""):
                    errors[name] = "Only a Modbus binding has a register table and address."
            if not self.node_id:
                errors["node_id"] = "An OPC UA binding needs a node id, e.g. ns=2;s=Line1.Filler.Running."
            elif not is_opcua_node_id(self.node_id):
                errors["node_id"] = (
                    f"{self.node_id!r} is not an OPC UA node id: use ns=<n>;s=<name>, ns=<n>;i=<number>, "
                    "ns=<n>;g=<uuid> or ns=<n>;b=<base64> (ns=0; may be left out)."
                )
            if self.bit is not None:
                errors.update(opcua_bit_errors(self))
        if errors:
            raise ValidationError(errors)


# Registers a value of each type takes (a register is 16 bits); bits each integer type has.
REGISTER_COUNT = {"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
                  "int64": 4, "uint64": 4, "float64": 4}
INTEGER_BITS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}
# Signals whose value is a whole number: a float or a single bit cannot carry them.
WHOLE_NUMBER_SIGNALS = {Signal.TOTAL_COUNT, Signal.GOOD_COUNT, Signal.REJECT_COUNT, Signal.PACKML_STATE}
# Signals one bit of an OPC UA node can carry: the on/off ones a device sends.
BIT_SIGNALS = {Signal.RUNNING, Signal.FAULT}

_NODE_ID = re.compile(
    r"^(?:ns=(?P<ns>\d+);|nsu=[^;]+;)?"
    r"(?:i=(?P<i>\d+)|s=(?P<s>.+)|g=(?P<g>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"
    r"|b=(?P<b>[A-Za-z0-9+/]+={0,2}))$",
    re.DOTALL,
)


def is_opcua_node_id(text: str) -> bool:
    """True for the string form of an OPC UA node id (Part 6, 5.3.1.10), e.g. `ns=2;s=Line1.Running`."""
    match = _NODE_ID.match(text)
    if match is None:
        return False
    if match["ns"] is not None and int(match["ns"]) > 0xFFFF:
        return False
    if match["i"] is not None and int(match["i"]) > 0xFFFFFFFF:
        return False
    if match["b"] is not None:
        try:
            base64.b64decode(match["b"], validate=True)
        except binascii.Error:
            return False
    return True


def modbus_address_errors(binding: SignalBinding) -> dict[str, str]:
    """What is wrong with a Modbus binding's table, address, type and bit, by field name."""
    errors: dict[str, str] = {}
    for name in ("table", "address", "data_type"):
        if getattr(binding, name) in (None, ""):
            errors[name] = "A Modbus binding needs a register table, an address and a data type."
    if errors:
        return errors
    data_type, table = binding.data_type, binding.table
    if data_type not in REGISTER_COUNT or table not in RegisterTable.values:
        return errors  # the field's own check reports the unknown choice
    if table in (RegisterTable.COIL, RegisterTable.DISCRETE):
        if data_type != DataType.BOOL:
            errors["data_type"] = "Coils and discrete inputs hold single bits: the data type must be bool."
    else:
        count = REGISTER_COUNT[data_type]
        if binding.address + count > 0x10000:
            errors["address"] = (
                f"A {data_type} takes {count} registers: starting at {binding.address} it runs past the last "
                "register (65535)."
            )
    if binding.bit is not None:
        width = INTEGER_BITS.get(data_type)
        if width is None:
            errors["bit"] = f"A bit can only be read from an integer type, not from {data_type}."
        elif binding.bit >= width:
            errors["bit"] = f"A {data_type} has bits 0–{width - 1}."
    floating = data_type in (DataType.FLOAT32, DataType.FLOAT64)
    if binding.signal in WHOLE_NUMBER_SIGNALS:
        if floating or data_type == DataType.BOOL or binding.bit is not None:
            errors.setdefault("data_type", f"{binding.signal} is a whole number: read it from an integer type, "
                                           "without a bit.")
    elif binding.signal in (Signal.RUNNING, Signal.FAULT) and floating:
        errors.setdefault("data_type", f"{binding.signal} is on/off or a fault code: read it from bool or an "
                                       "integer type.")
    return errors


def opcua_bit_errors(binding: SignalBinding) -> dict[str, str]:
    """What is wrong with reading one bit of an OPC UA node for the binding's signal, by field name.

    The node's type is known only when it is read: the collector refuses a bit of a node that is
    not an integer, or past its width (0–7 of a Byte, 0–15 of a UInt16, … 0–63 of a UInt64).
    """
    if binding.signal not in BIT_SIGNALS:
        return {"bit": f"{binding.signal} is not on/off: one bit can only carry running or fault."}
    if binding.scale != 1.0 or binding.offset != 0.0:
        return {"bit": "A bit is on or off: it takes no scale or offset."}
    return {}


class DeviceHealth(models.Model):
    """The latest health of one device as its collector last saw it (overwritten, not history)."""

    device_kind = models.CharField(max_length=8, choices=[("modbus", "Modbus"), ("opcua", "OPC UA")])
    device_code = models.CharField(max_length=40)
    connected = models.BooleanField(default=False)
    last_good_read = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    collector = models.CharField(max_length=120, blank=True, help_text="The worker that owns the device.")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device_kind", "device_code"]
        constraints = [models.UniqueConstraint(fields=["device_kind", "device_code"], name="one_health_per_device")]
        verbose_name_plural = "device health"

    def __str__(self) -> str:
        return f"{self.device_kind}:{self.device_code} {'up' if self.connected else 'down'}"
