"""Reads machines' signals from an OPC UA server: by subscription where it allows, else by reads.

A session is one asyncua `Client`. Monitored items report changes into a queue that `read()`
drains; a server that refuses subscriptions is polled instead. A lost session is never
repaired in place: `read()` raises `CollectorError`, and the runner closes and connects again,
which builds a new client, session and subscription. The collector only reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.crypto import security_policies
from asyncua.crypto.uacrypto import CertProperties

from monitoring.collectors.base import Collector, CollectorError, Reading
from monitoring.lib.certificates import application_uri_of
from monitoring.lib.signals import parse_value

logger = logging.getLogger(__name__)

POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128Sha256RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256Sha256RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}

# Used when the client certificate names no application URI (or there is no certificate).
CLIENT_APPLICATION_URI = "urn:oee-live:collector"
# Short enough that a server forgets a collector that vanished within a minute; the client's
# watchdog reads the server state every `timeout` seconds, so a live session never idles out.
SESSION_TIMEOUT_MS = 60_000
# Changes a server may keep per monitored item between two publishes, so a short stop that
# starts and ends within one publishing interval still arrives as two changes.
MONITORED_ITEM_QUEUE_SIZE = 16
# Readings waiting for `read()`; past this, changes are dropped and reported, not hoarded.
MAX_QUEUED_CHANGES = 100_000
# A connect is a handful of requests (hello, channel, session, activate, subscription, items).
CONNECT_REQUESTS = 8
# Value errors kept for `take_errors()` between two calls; older ones are only logged.
MAX_KEPT_ERRORS = 1000

INTEGER_TYPES = {
    ua.VariantType.SByte, ua.VariantType.Byte, ua.VariantType.Int16, ua.VariantType.UInt16,
    ua.VariantType.Int32, ua.VariantType.UInt32, ua.VariantType.Int64, ua.VariantType.UInt64,
}
FLOAT_TYPES = {ua.VariantType.Float, ua.VariantType.Double}
_COUNT = ((int, float), "a cumulative count")
# The Python types (decoded from the OPC UA type) each device signal accepts, and how to say
# what was expected when refused. The ranges are the shared rules of `parse_value`.
ACCEPTED_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "running": ((bool, int), "a Boolean"),
    "fault": ((bool, int), "a Boolean or a fault code"),
    "reason": ((str, int), "a reason code"),
    "total_count": _COUNT,
    "good_count": _COUNT,
    "reject_count": _COUNT,
    "packml_state": ((int,), "a PackML state number"),
}


class OpcUaEndpointSettings(Protocol):
    """What the collector needs of an endpoint: an `OpcUaEndpoint` row or `OpcUaSettings`."""

    code: str
    url: str
    security_mode: str
    security_policy: str
    client_certificate: str
    client_private_key: str
    server_certificate: str
    username: str
    password: str
    publishing_interval: float
    sampling_interval: float
    timeout: float


@dataclass(frozen=True)
class OpcUaSettings:
    """An endpoint as plain values (same field names and defaults as the `OpcUaEndpoint` model)."""

    url: str
    code: str = "opcua"
    security_mode: str = "None"
    security_policy: str = "None"
    client_certificate: str = ""
    client_private_key: str = ""
    server_certificate: str = ""
    username: str = ""
    password: str = ""
    publishing_interval: float = 0.5
    sampling_interval: float = 0.25
    timeout: float = 2.0


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
class ProbeResult:
    """One binding's outcome of a one-shot read: the raw and decoded value, or why there is none."""

    machine_code: str
    signal: str
    raw: object
    value: bool | int | float | str | None
    error: str | None = None

    def __iter__(self) -> Iterator[object]:
        return iter((self.machine_code, self.signal, self.raw, self.value, self.error))


# A NodeBinding, a `SignalBinding` row with its machine loaded, or a (machine, signal, node id) tuple.
BindingLike = NodeBinding | Sequence[Any] | Any


def as_binding(binding: BindingLike) -> NodeBinding:
    """A NodeBinding from itself, a `SignalBinding` row (machine loaded), or a (machine, signal, node id) tuple."""
    if isinstance(binding, NodeBinding):
        return binding
    if hasattr(binding, "node_id"):
        return NodeBinding(
            binding.machine.code, binding.signal, binding.node_id, binding.bit, binding.scale, binding.offset
        )
    return NodeBinding(*binding)


def endpoint_bindings(endpoint: Any) -> list[NodeBinding]:
    """The node bindings of an `OpcUaEndpoint`'s enabled machines (queries the database)."""
    rows = endpoint.bindings.select_related("machine").filter(machine__enabled=True).exclude(node_id="")
    return [as_binding(row) for row in rows]


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _plain_value(variant: ua.Variant | None) -> bool | int | float | str:
    """The Python value of a scalar Boolean, integer, float or string variant; CollectorError otherwise."""
    if variant is None or variant.VariantType == ua.VariantType.Null or variant.Value is None:
        raise CollectorError("the node has no value")
    if variant.is_array:
        raise CollectorError(f"expected a single value, got an array of {variant.VariantType.name}")
    kind = variant.VariantType
    if kind == ua.VariantType.Boolean:
        return bool(variant.Value)
    if kind in INTEGER_TYPES:
        return int(variant.Value)
    if kind in FLOAT_TYPES:
        return float(variant.Value)
    if kind == ua.VariantType.String:
        return str(variant.Value)
    raise CollectorError(f"unsupported OPC UA type {kind.name}")


def decode_value(
    signal: str, variant: ua.Variant | None, *, bit: int | None = None, scale: float = 1.0, offset: float = 0.0
) -> bool | int | float | str:
    """The value of `signal` carried by `variant` (one bit of it, or scaled), checked against DESIGN §5.

    Raises CollectorError for a value the signal cannot take, e.g. a string for a count.
    """
    if signal not in ACCEPTED_TYPES:
        raise CollectorError(f"{signal!r} is not a signal a device sends")
    value = _plain_value(variant)
    got = f"{variant.VariantType.name} {value!r}"
    if bit is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CollectorError(f"bit {bit} needs an integer value, got {got}")
        value = bool(value >> bit & 1)
    elif (scale, offset) != (1.0, 0.0) and isinstance(value, int | float) and not isinstance(value, bool):
        value = value * scale + offset
    types, expected = ACCEPTED_TYPES[signal]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise CollectorError(f"expected {expected}, got {got}")
    if signal == "reason" and isinstance(value, int):
        value = str(value)
    try:
        return parse_value(signal, value)
    except ValueError as exc:
        raise CollectorError(str(exc)) from None


def _timestamp(datavalue: ua.DataValue | None, default: datetime) -> datetime:
    """The value's source timestamp as an aware UTC datetime, or `default` when it has none."""
    ts = datavalue.SourceTimestamp if datavalue is not None else None
    # An unset timestamp decodes as the 1601 FILETIME epoch.
    if ts is None or ts.year < 1971:
        return default
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _parse_bindings(
    bindings: Iterable[NodeBinding],
) -> tuple[dict[ua.NodeId, list[NodeBinding]], dict[NodeBinding, str]]:
    """Bindings grouped by node id (two signals may share a node), and why each unusable one is."""
    by_node: dict[ua.NodeId, list[NodeBinding]] = {}
    invalid = {}
    for binding in bindings:
        try:
            nodeid = ua.NodeId.from_string(binding.node_id)
        except Exception as exc:
            invalid[binding] = f"not a node id: {_describe(exc)}"
            continue
        by_node.setdefault(nodeid, []).append(binding)
    return by_node, invalid


def _checked_value(binding: NodeBinding, datavalue: ua.DataValue) -> bool | int | float | str:
    """The decoded value of a node read or change for the binding's signal. Raises CollectorError."""
    status = datavalue.StatusCode
    if status is not None and not status.is_good():
        raise CollectorError(f"bad status {status.name}")
    return decode_value(
        binding.signal, datavalue.Value, bit=binding.bit, scale=binding.scale, offset=binding.offset
    )


def _raw(datavalue: ua.DataValue) -> object:
    return datavalue.Value.Value if datavalue.Value is not None else None


async def _disconnect(client: Client, timeout: float) -> None:
    """Close a client's session, channel and socket as far as they still exist; never raises."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout)
    except Exception as exc:
        # Closing a dead session fails in many ways; the socket must go regardless.
        logger.debug("OPC UA disconnect from %s failed: %s", client.server_url.geturl(), _describe(exc))
        client.disconnect_socket()


async def open_client(endpoint: OpcUaEndpointSettings) -> Client:
    """A new client with a new activated session on the endpoint. Raises CollectorError."""
    timeout = float(endpoint.timeout)
    client = Client(endpoint.url, timeout=timeout, watchdog_intervall=max(timeout, 0.5))
    client.name = client.description = f"OEE Live collector ({endpoint.code})"
    client.application_uri = CLIENT_APPLICATION_URI
    client.session_timeout = SESSION_TIMEOUT_MS
    if endpoint.username:
        client.set_user(endpoint.username)
        client.set_password(endpoint.password or "")
    try:
        await asyncio.wait_for(_secure_and_connect(client, endpoint), timeout * CONNECT_REQUESTS)
    except CollectorError:
        await _disconnect(client, timeout)
        raise
    except Exception as exc:
        await _disconnect(client, timeout)
        raise CollectorError(f"{endpoint.url}: cannot connect: {_describe(exc)}") from exc
    return client


async def _secure_and_connect(client: Client, endpoint: OpcUaEndpointSettings) -> None:
    mode = endpoint.security_mode or "None"
    if mode != "None":
        if mode not in MODES or endpoint.security_policy not in POLICIES:
            raise CollectorError(
                f"{endpoint.url}: unsupported security {endpoint.security_policy!r} / {mode!r}"
            )
        if not (endpoint.client_certificate and endpoint.client_private_key):
            raise CollectorError(f"{endpoint.url}: security mode {mode} needs a client certificate and key")
        # Servers check that the session's application URI is the one in the certificate.
        client.application_uri = application_uri_of(endpoint.client_certificate) or CLIENT_APPLICATION_URI
        server_certificate = (
            CertProperties(endpoint.server_certificate.encode("ascii"), extension="pem")
            if endpoint.server_certificate
            else None
        )
        await client.set_security(
            POLICIES[endpoint.security_policy],
            certificate=CertProperties(endpoint.client_certificate.encode("ascii"), extension="pem"),
            private_key=CertProperties(endpoint.client_private_key.encode("ascii"), extension="pem"),
            server_certificate=server_certificate,
            mode=MODES[mode],
        )
    await client.connect()


class _SubscriptionHandler:
    """asyncua's subscription callbacks: queue each change as it arrives, note a lost subscription."""

    def __init__(self, bindings_by_node: dict[ua.NodeId, list[NodeBinding]]) -> None:
        self.bindings_by_node = bindings_by_node
        self.changes: asyncio.Queue[tuple[NodeBinding, ua.DataValue, datetime]] = asyncio.Queue(MAX_QUEUED_CHANGES)
        self.dropped = 0
        self.lost: str | None = None

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        datavalue = data.monitored_item.Value
        ts = _timestamp(datavalue, default=datetime.now(timezone.utc))
        for binding in self.bindings_by_node.get(node.nodeid, ()):
            try:
                self.changes.put_nowait((binding, datavalue, ts))
            except asyncio.QueueFull:
                self.dropped += 1

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        if not status.Status.is_good():
            self.lost = f"subscription ended: {status.Status.name}"


class OpcUaCollector(Collector):
    """A read-only OPC UA session with one endpoint, reading the bound nodes of its machines.

    Values that do not fit their signal are dropped; `take_errors()` hands their CollectorErrors
    to the runner for the device's health and event log.
    """

    kind = "opcua"

    def __init__(self, endpoint: OpcUaEndpointSettings, bindings: Iterable[BindingLike]) -> None:
        self.endpoint = endpoint
        self.bindings = [as_binding(binding) for binding in bindings]
        self.bindings_by_node, invalid = _parse_bindings(self.bindings)
        self._binding_errors = [CollectorError(f"{binding.describe()}: {why}") for binding, why in invalid.items()]
        self.client: Client | None = None
        self.subscribed = False
        self._handler: _SubscriptionHandler | None = None
        self._polled: dict[ua.NodeId, list[NodeBinding]] = {}
        self._connection_lost: str | None = None
        self._errors: list[CollectorError] = []
        self._logged: set[str] = set()

    @classmethod
    def from_endpoint(cls, endpoint: Any) -> OpcUaCollector:
        """A collector for an `OpcUaEndpoint` row and its bindings (queries the database: call from sync code)."""
        return cls(endpoint, endpoint_bindings(endpoint))

    def __str__(self) -> str:
        return f"OPC UA {self.endpoint.code} ({self.endpoint.url})"

    def take_errors(self) -> list[CollectorError]:
        """The value errors recorded since the last call (dropped values, refused nodes)."""
        errors, self._errors = self._errors, []
        return errors

    def _record(self, error: CollectorError) -> None:
        """Keep a value error for `take_errors()`, and log each different one once per session."""
        if len(self._errors) < MAX_KEPT_ERRORS:
            self._errors.append(error)
        if str(error) not in self._logged:
            self._logged.add(str(error))
            logger.warning("%s: %s", self, error)

    async def connect(self) -> None:
        if self.client is not None:
            await self.close()
        self._logged = set()
        for error in self._binding_errors:
            self._record(error)
        self._connection_lost = None
        client = await open_client(self.endpoint)

        async def on_connection_lost(exc: Exception) -> None:
            self._connection_lost = _describe(exc)

        client.connection_lost_callback = on_connection_lost
        self.client = client
        try:
            self.subscribed = await self._subscribe(client)
        except BaseException:
            await self.close()
            raise
        logger.info("%s connected, %s", self, "subscribed" if self.subscribed else "polling")

    async def _subscribe(self, client: Client) -> bool:
        """Monitor every bound node; False (and poll them all) when the server refuses."""
        self._polled = {}
        handler = _SubscriptionHandler(self.bindings_by_node)
        nodes = [client.get_node(nodeid) for nodeid in self.bindings_by_node]
        if not nodes:
            return False
        try:
            subscription = await client.create_subscription(self.endpoint.publishing_interval * 1000, handler)
        except ua.UaStatusCodeError as exc:
            logger.info("%s refused a subscription (%s); polling instead", self, _describe(exc))
            self._polled = dict(self.bindings_by_node)
            return False
        except Exception as exc:
            raise CollectorError(f"{self.endpoint.url}: cannot subscribe: {_describe(exc)}") from exc
        try:
            results = await subscription.subscribe_data_change(
                nodes,
                queuesize=MONITORED_ITEM_QUEUE_SIZE,
                sampling_interval=self.endpoint.sampling_interval * 1000,
            )
        except ua.UaStatusCodeError as exc:
            logger.info("%s refused monitored items (%s); polling instead", self, _describe(exc))
            await self._delete_quietly(subscription)
            self._polled = dict(self.bindings_by_node)
            return False
        except Exception as exc:
            raise CollectorError(f"{self.endpoint.url}: cannot subscribe: {_describe(exc)}") from exc
        for node, result in zip(nodes, results):
            if isinstance(result, ua.StatusCode):
                for binding in self.bindings_by_node[node.nodeid]:
                    self._record(CollectorError(f"{binding.describe()}: not monitored: {result.name}"))
        self._handler = handler
        return True

    async def _delete_quietly(self, subscription: Any) -> None:
        try:
            await asyncio.wait_for(subscription.delete(), self.endpoint.timeout)
        except Exception as exc:
            logger.debug("%s could not delete a refused subscription: %s", self, _describe(exc))

    def _lost_reason(self) -> str | None:
        if self.client is None:
            return "not connected"
        if self.client.state is not UaClientState.CONNECTED:
            return f"session lost ({self._connection_lost or self.client.state.value})"
        if self._handler is not None and self._handler.lost:
            return self._handler.lost
        return None

    async def read(self) -> list[Reading]:
        readings = self._drain()
        lost = self._lost_reason()
        if lost is not None:
            # Changes that arrived before the loss were read: hand them over first.
            if readings:
                return readings
            raise CollectorError(f"{self.endpoint.url}: {lost}")
        if self._polled:
            readings += await self._poll()
        return readings

    def _drain(self) -> list[Reading]:
        handler = self._handler
        if handler is None:
            return []
        readings = []
        while not handler.changes.empty():
            binding, datavalue, ts = handler.changes.get_nowait()
            reading = self._decode(binding, datavalue, ts)
            if reading is not None:
                readings.append(reading)
        if handler.dropped:
            self._record(CollectorError(f"{self.endpoint.url}: changes dropped, the queue was full"))
            handler.dropped = 0
        return readings

    async def _poll(self) -> list[Reading]:
        assert self.client is not None
        nodeids = list(self._polled)
        try:
            datavalues = await self.client.read_attributes([self.client.get_node(nodeid) for nodeid in nodeids])
        except Exception as exc:
            raise CollectorError(f"{self.endpoint.url}: read failed: {_describe(exc)}") from exc
        now = datetime.now(timezone.utc)
        readings = []
        for nodeid, datavalue in zip(nodeids, datavalues):
            for binding in self._polled[nodeid]:
                reading = self._decode(binding, datavalue, _timestamp(datavalue, default=now))
                if reading is not None:
                    readings.append(reading)
        return readings

    def _decode(self, binding: NodeBinding, datavalue: ua.DataValue, ts: datetime) -> Reading | None:
        """A Reading, or None with the reason recorded in the errors."""
        try:
            value = _checked_value(binding, datavalue)
        except CollectorError as exc:
            self._record(CollectorError(f"{binding.describe()}: {exc}"))
            return None
        return Reading(binding.machine_code, binding.signal, value, ts, raw=_raw(datavalue))

    async def close(self) -> None:
        client, self.client = self.client, None
        self._handler = None
        self._polled = {}
        self.subscribed = False
        if client is not None:
            await _disconnect(client, float(self.endpoint.timeout))


def collector_for_endpoint(endpoint: OpcUaEndpointSettings, bindings: Iterable[BindingLike]) -> OpcUaCollector:
    """The runner's factory: a collector for an endpoint and its already loaded `SignalBinding` rows."""
    return OpcUaCollector(endpoint, bindings)


async def read_once(endpoint: OpcUaEndpointSettings, bindings: Iterable[BindingLike]) -> list[ProbeResult]:
    """Connect, read each bound node once, close: a result per binding, in order. Raises CollectorError."""
    bindings = [as_binding(binding) for binding in bindings]
    by_node, invalid = _parse_bindings(bindings)
    nodeids = list(by_node)
    client = await open_client(endpoint)
    try:
        datavalues = await client.read_attributes([client.get_node(nodeid) for nodeid in nodeids]) if nodeids else []
    except Exception as exc:
        raise CollectorError(f"{endpoint.url}: read failed: {_describe(exc)}") from exc
    finally:
        await _disconnect(client, float(endpoint.timeout))
    results = {
        binding: ProbeResult(binding.machine_code, binding.signal, None, None, why) for binding, why in invalid.items()
    }
    for nodeid, datavalue in zip(nodeids, datavalues):
        for binding in by_node[nodeid]:
            try:
                value, error = _checked_value(binding, datavalue), None
            except CollectorError as exc:
                value, error = None, str(exc)
            results[binding] = ProbeResult(binding.machine_code, binding.signal, _raw(datavalue), value, error)
    return [results[binding] for binding in bindings]


def read_opcua_once(
    endpoint: OpcUaEndpointSettings, bindings: Iterable[BindingLike] | None = None
) -> list[ProbeResult]:
    """`read_once` for synchronous code (the admin's "read now"); without bindings, the endpoint's own.

    Each result unpacks as (machine_code, signal, raw, value, error). Raises CollectorError.
    """
    if bindings is None:
        bindings = endpoint_bindings(endpoint)
    return asyncio.run(read_once(endpoint, list(bindings)))
