"""Reads machines' signals from an OPC UA server: by subscription where it allows, else by reads.

A session is one asyncua `Client`. Monitored items report changes into a queue that `read()`
drains, and wake the host's wait for the next scan (`wait_for_news`), so a change is read as it
arrives rather than at the next scan tick; a server that refuses subscriptions is polled instead. A lost session is never
repaired in place: `read()` raises `CollectorError`, and the runner closes and connects again,
which builds a new client, session and subscription. The collector only reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.crypto import security_policies
from asyncua.crypto.uacrypto import CertProperties

from monitoring.collectors.base import Collector, CollectorError, ProbeRow, Reading
from monitoring.collectors.opcua_values import checked_value, raw_value, source_timestamp
from monitoring.collectors.settings import NodeBinding, OpcUaSettings
from monitoring.lib.certificates import application_uri_of

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


def as_binding(binding: NodeBinding | tuple) -> NodeBinding:
    """A NodeBinding from itself or a (machine code, signal, node id[, bit, scale, offset]) tuple."""
    return binding if isinstance(binding, NodeBinding) else NodeBinding(*binding)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


def _socket_open(client: Client) -> bool:
    protocol = client.uaclient.protocol
    return protocol is not None and not protocol.is_closed


async def _disconnect(client: Client, timeout: float) -> None:
    """Close a client's session, channel and socket as far as they still exist; never raises.

    Step by step rather than `client.disconnect()`, which logs an error with a traceback for a
    session the server already closed: what every collector meets when the plant stops first.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    for step in (client.close_session, client.close_secure_channel):
        remaining = deadline - asyncio.get_running_loop().time()
        if not _socket_open(client) or remaining <= 0:
            break
        try:
            # In this task, not wait_for's: the socket checked open just now is still open when the step begins.
            async with asyncio.timeout(remaining):
                await step()
        except Exception as exc:
            # Closing a dead session fails in many ways; the socket must go regardless.
            logger.debug("OPC UA %s of %s failed: %s", step.__name__, client.server_url.geturl(), _describe(exc))
    client.disconnect_socket()


async def open_client(endpoint: OpcUaSettings) -> Client:
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


async def _secure_and_connect(client: Client, endpoint: OpcUaSettings) -> None:
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
        self.news = asyncio.Event()
        """Set when a change (or the loss of the subscription) arrives: `read()` has something to say."""

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        datavalue = data.monitored_item.Value
        ts = source_timestamp(datavalue, default=datetime.now(timezone.utc))
        for binding in self.bindings_by_node.get(node.nodeid, ()):
            try:
                self.changes.put_nowait((binding, datavalue, ts))
            except asyncio.QueueFull:
                self.dropped += 1
        self.news.set()

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        if not status.Status.is_good():
            self.lost = f"subscription ended: {status.Status.name}"
            self.news.set()


class OpcUaCollector(Collector):
    """A read-only OPC UA session with one endpoint, reading the bound nodes of its machines.

    Values that do not fit their signal are dropped; `take_errors()` hands their CollectorErrors
    to the runner for the device's health and event log.
    """

    kind = "opcua"

    def __init__(self, endpoint: OpcUaSettings, bindings: Iterable[NodeBinding | tuple] | None = None) -> None:
        self.endpoint = endpoint
        self.bindings = [as_binding(binding) for binding in (endpoint.bindings if bindings is None else bindings)]
        self.bindings_by_node, invalid = _parse_bindings(self.bindings)
        self._binding_errors = [CollectorError(f"{binding.describe()}: {why}") for binding, why in invalid.items()]
        self.client: Client | None = None
        self.subscribed = False
        self._handler: _SubscriptionHandler | None = None
        self._polled: dict[ua.NodeId, list[NodeBinding]] = {}
        self._connection_lost: str | None = None
        self._errors: list[CollectorError] = []
        self._logged: set[str] = set()

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
            if self._handler is not None:
                self._handler.news.set()  # the host hears of it now, not at the next scan

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

    async def wait_for_news(self, timeout: float) -> None:
        """Until the next scan is due, or until the subscription reports changes (or is lost)."""
        handler = self._handler
        if handler is None:
            await asyncio.sleep(timeout)
            return
        if not handler.changes.empty() or handler.lost or self._connection_lost:
            return
        # asyncua hands each notification of a publish to the handler in a task of its own, all queued
        # together: by the time this wakes, the whole publish is in the queue and goes in one read.
        handler.news.clear()
        try:
            await asyncio.wait_for(handler.news.wait(), timeout)
        except TimeoutError:
            pass

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
                reading = self._decode(binding, datavalue, source_timestamp(datavalue, default=now))
                if reading is not None:
                    readings.append(reading)
        return readings

    def _decode(self, binding: NodeBinding, datavalue: ua.DataValue, ts: datetime) -> Reading | None:
        """A Reading, or None with the reason recorded in the errors."""
        try:
            value = checked_value(binding, datavalue)
        except CollectorError as exc:
            self._record(CollectorError(f"{binding.describe()}: {exc}"))
            return None
        return Reading(binding.machine_code, binding.signal, value, ts, raw=raw_value(datavalue))

    @classmethod
    async def probe(cls, settings: OpcUaSettings) -> list[ProbeRow]:
        """Read each bound node once (no subscription), in the order of the settings' bindings."""
        bindings = list(settings.bindings)
        by_node, invalid = _parse_bindings(bindings)
        nodeids = list(by_node)
        try:
            client = await open_client(settings)
        except CollectorError as error:
            return [ProbeRow(b.machine_code, b.signal, None, None, str(error)) for b in bindings]
        try:
            datavalues = await client.read_attributes([client.get_node(n) for n in nodeids]) if nodeids else []
        except Exception as exc:
            error = f"{settings.url}: read failed: {_describe(exc)}"
            return [ProbeRow(b.machine_code, b.signal, None, None, error) for b in bindings]
        finally:
            await _disconnect(client, float(settings.timeout))
        rows = {binding: ProbeRow(binding.machine_code, binding.signal, None, None, why)
                for binding, why in invalid.items()}
        for nodeid, datavalue in zip(nodeids, datavalues):
            for binding in by_node[nodeid]:
                try:
                    value, error = checked_value(binding, datavalue), None
                except CollectorError as exc:
                    value, error = None, str(exc)
                rows[binding] = ProbeRow(binding.machine_code, binding.signal, raw_value(datavalue), value, error)
        return [rows[binding] for binding in bindings]

    async def close(self) -> None:
        client, self.client = self.client, None
        self._handler = None
        self._polled = {}
        self.subscribed = False
        if client is not None:
            await _disconnect(client, float(self.endpoint.timeout))
