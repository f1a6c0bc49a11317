"""An OPC UA server that publishes simulated machines' signals, for the plant simulator and tests.

Each machine is an object `ns=<idx>;s=<CODE>` holding the variables `<CODE>.Running`,
`.FaultCode`, `.TotalCount`, `.RejectCount` and `.PackMLState`; an update task copies the
machines' attributes into them. `stop()` and `restart()` stand in for a PLC going away.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from monitoring.lib.certificates import application_uri_of, fingerprint

logger = logging.getLogger(__name__)

NAMESPACE_URI = "urn:oee-live:simulator"
# The first namespace a fresh server registers after its own application URI.
NAMESPACE_INDEX = 2
DEFAULT_APPLICATION_URI = "urn:oee-live:simulator:server"


class MachineLike(Protocol):
    code: str
    running: bool
    fault_code: int
    total_count: int
    reject_count: int
    packml_state: int | None


@dataclass(frozen=True)
class Tag:
    """One variable of a simulated machine: its node name, canonical signal and OPC UA type."""

    name: str
    signal: str
    attribute: str
    variant_type: ua.VariantType
    modulus: int | None = None


TAGS = (
    Tag("Running", "running", "running", ua.VariantType.Boolean),
    Tag("FaultCode", "fault", "fault_code", ua.VariantType.UInt16, 2**16),
    # A PLC's 32-bit counter: the true count wraps around as the real one would.
    Tag("TotalCount", "total_count", "total_count", ua.VariantType.UInt32, 2**32),
    Tag("RejectCount", "reject_count", "reject_count", ua.VariantType.UInt32, 2**32),
    Tag("PackMLState", "packml_state", "packml_state", ua.VariantType.Int32),
)


def node_ids(machine_code: str, namespace_index: int = NAMESPACE_INDEX, packml: bool = True) -> dict[str, str]:
    """The node id of each canonical signal the simulator serves for one machine, by signal."""
    return {
        tag.signal: f"ns={namespace_index};s={machine_code}.{tag.name}"
        for tag in TAGS
        if packml or tag.signal != "packml_state"
    }


@dataclass(frozen=True)
class ServerSecurity:
    """Certificate, key and policies of a secured simulator; the None endpoint is then not offered."""

    certificate_pem: str
    private_key_pem: str
    policies: tuple[str, ...] = ("Basic256Sha256", "Aes256Sha256RsaPss")
    modes: tuple[str, ...] = ("SignAndEncrypt",)
    trusted_client_certificates: tuple[str, ...] = ()
    # Development servers often accept any self-signed client; a real one keeps a trust list.
    trust_any_client: bool = False


class _SimulatorUsers:
    """Lets a session in only over a secured channel (when secured) and with a known password (when set)."""

    def __init__(self, require_certificate: bool, passwords: Mapping[str, str] | None) -> None:
        self.require_certificate = require_certificate
        self.passwords = dict(passwords) if passwords is not None else None

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if self.require_certificate and not certificate:
            return None
        if self.passwords is not None:
            expected = self.passwords.get(username or "")
            if expected is None or not hmac.compare_digest(expected.encode(), (password or "").encode()):
                return None
        return User(role=UserRole.User, name=username)


def _trust_validator(security: ServerSecurity) -> Any:
    """A certificate check: valid, carrying its application URI, and on the trust list."""
    trusted = {fingerprint(pem) for pem in security.trusted_client_certificates}
    basic = CertificateValidator(CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_CLIENT)

    async def validate(certificate: x509.Certificate, description: ua.ApplicationDescription) -> None:
        await basic(certificate, description)
        if not security.trust_any_client and certificate.fingerprint(hashes.SHA256()) not in trusted:
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    return validate


class SimulatorOpcUaServer:
    """Serves simulated machines over OPC UA at `url`, refreshing the values every `period` seconds."""

    def __init__(
        self,
        machines: Iterable[MachineLike],
        url: str,
        *,
        security: ServerSecurity | None = None,
        users: Mapping[str, str] | None = None,
        subscriptions: bool = True,
        period: float = 0.1,
        clock: bool = True,
    ) -> None:
        self.machines = list(machines)
        self.url = url
        self.security = security
        self.users = users
        self.subscriptions = subscriptions
        self.period = period
        # asyncua's clock task ticks once a second and holds up stop() until its next tick.
        self.clock = clock
        self.server: Server | None = None
        self.namespace_index = NAMESPACE_INDEX
        self._nodes: list[tuple[MachineLike, Tag, ua.NodeId]] = []
        self._written: dict[ua.NodeId, Any] = {}
        self._update_task: asyncio.Task[None] | None = None

    def node_ids(self, machine_code: str) -> dict[str, str]:
        """The node id of each signal this server serves for the machine, by signal."""
        machine = next(m for m in self.machines if m.code == machine_code)
        return node_ids(machine_code, self.namespace_index, packml=machine.packml_state is not None)

    async def start(self) -> None:
        """Build a fresh server (no session survives from a previous run), listen, start updating."""
        if self.server is not None:
            return
        server = await self._build()
        await server.start()
        self.server = server
        self._update_task = asyncio.create_task(self._update_loop(), name=f"opcua-simulator {self.url}")

    async def stop(self) -> None:
        """Stop updating and listening; connected clients lose their sessions."""
        task, self._update_task = self._update_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    async def restart(self) -> None:
        """Stop, then start again on the same URL with the same node ids."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> SimulatorOpcUaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def update_once(self) -> None:
        """Copy every machine's attributes into its nodes, writing only the values that changed."""
        if self.server is None:
            return
        now = datetime.now(timezone.utc)
        for machine, tag, nodeid in self._nodes:
            value = self._value(machine, tag)
            if value is None or self._written.get(nodeid) == value:
                continue
            # Claimed before the write yields, so a concurrent update cannot send the same change twice.
            self._written[nodeid] = value
            try:
                await self.server.write_attribute_value(
                    nodeid,
                    ua.DataValue(Value=ua.Variant(value, tag.variant_type), SourceTimestamp=now, ServerTimestamp=now),
                )
            except Exception:
                del self._written[nodeid]
                raise

    async def _update_loop(self) -> None:
        while True:
            try:
                await self.update_once()
            except Exception:
                logger.exception("OPC UA simulator could not update its nodes")
            await asyncio.sleep(self.period)

    @staticmethod
    def _value(machine: MachineLike, tag: Tag) -> bool | int | None:
        value = getattr(machine, tag.attribute)
        if value is None:
            return None
        if tag.variant_type == ua.VariantType.Boolean:
            return bool(value)
        return int(value) % tag.modulus if tag.modulus else int(value)

    async def _build(self) -> Server:
        security = self.security
        server = Server(user_manager=_SimulatorUsers(require_certificate=security is not None, passwords=self.users))
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("OEE Live plant simulator")
        server.disable_clock(not self.clock)
        if security is None:
            await server.set_application_uri(DEFAULT_APPLICATION_URI)
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            await server.set_application_uri(application_uri_of(security.certificate_pem) or DEFAULT_APPLICATION_URI)
            await server.load_certificate(security.certificate_pem.encode("ascii"), format="pem")
            await server.load_private_key(security.private_key_pem.encode("ascii"), format="pem")
            server.set_security_policy(
                [ua.SecurityPolicyType[f"{policy}_{mode}"] for policy in security.policies for mode in security.modes]
            )
            server.set_certificate_validator(_trust_validator(security))
        tokens = [ua.UserNameIdentityToken] if self.users is not None else [ua.AnonymousIdentityToken]
        server.set_identity_tokens(tokens)
        if not self.subscriptions:
            # Stands in for a small PLC that only answers reads.
            server.iserver.max_subscriptions = 0

        self.namespace_index = await server.register_namespace(NAMESPACE_URI)
        self._nodes = []
        self._written = {}
        objects = server.nodes.objects
        for machine in self.machines:
            folder = await objects.add_object(
                ua.NodeId(machine.code, self.namespace_index), ua.QualifiedName(machine.code, self.namespace_index)
            )
            for tag in TAGS:
                value = self._value(machine, tag)
                if value is None:
                    continue
                nodeid = ua.NodeId(f"{machine.code}.{tag.name}", self.namespace_index)
                await folder.add_variable(
                    nodeid, ua.QualifiedName(tag.name, self.namespace_index), ua.Variant(value, tag.variant_type)
                )
                self._nodes.append((machine, tag, nodeid))
                self._written[nodeid] = value
        return server
