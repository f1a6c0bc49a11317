"""OPC UA security: signed and encrypted sessions with certificates made here, and who gets refused."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.common.utils import create_nonce
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from monitoring.collectors.base import CollectorError, Reading
from monitoring.collectors.opcua import POLICIES, OpcUaCollector, OpcUaSettings
from monitoring.lib.certificates import (
    CertificatePair,
    application_uri_of,
    generate_application_certificate,
    load_certificate,
)
from monitoring.simulator.opcua_server import ServerSecurity, SimulatorOpcUaServer

module_loop = pytest.mark.asyncio(loop_scope="module")

SERVER_URI = "urn:oee-live:simulator:security-test"
COLLECTOR_URI = "urn:oee-live:collector:security-test"


@dataclass
class Machine:
    code: str
    running: bool = True
    fault_code: int = 0
    total_count: int = 0
    reject_count: int = 0
    packml_state: int | None = None


@dataclass(frozen=True)
class Certificates:
    server: CertificatePair
    collector: CertificatePair
    stranger: CertificatePair


@pytest.fixture(scope="module")
def certificates() -> Certificates:
    return Certificates(
        server=generate_application_certificate(SERVER_URI, "OEE Live simulator", client=False, server=True),
        collector=generate_application_certificate(COLLECTOR_URI, "OEE Live collector"),
        stranger=generate_application_certificate("urn:somebody:else", "Somebody else"),
    )


@dataclass
class SecurePlant:
    server: SimulatorOpcUaServer
    machine: Machine


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def secure_plant(certificates: Certificates) -> AsyncIterator[SecurePlant]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    security = ServerSecurity(
        certificates.server.certificate_pem,
        certificates.server.private_key_pem,
        policies=("Basic256Sha256", "Aes256Sha256RsaPss", "Aes128Sha256RsaOaep"),
        modes=("Sign", "SignAndEncrypt"),
        trusted_client_certificates=(certificates.collector.certificate_pem,),
    )
    machine = Machine("MIXER-1")
    url = f"opc.tcp://127.0.0.1:{port}/oee/"
    server = SimulatorOpcUaServer([machine], url, security=security, period=0.02, clock=False)
    async with server:
        yield SecurePlant(server, machine)


def secure_settings(
    plant: SecurePlant, client: CertificatePair, policy: str, mode: str, **extra: object
) -> OpcUaSettings:
    return OpcUaSettings(
        url=plant.server.url,
        security_mode=mode,
        security_policy=policy,
        client_certificate=client.certificate_pem,
        client_private_key=client.private_key_pem,
        publishing_interval=0.05,
        sampling_interval=0.02,
        timeout=1.0,
        **extra,
    )


def bindings(plant: SecurePlant) -> list[tuple[str, str, str]]:
    return [("MIXER-1", signal, node) for signal, node in plant.server.node_ids("MIXER-1").items()]


async def count_seen(collector: OpcUaCollector, count: int, within: float = 5.0) -> list[Reading]:
    readings: list[Reading] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        readings += await collector.read()
        if any(r.signal == "total_count" and r.value == count for r in readings):
            return readings
        await asyncio.sleep(0.05)
    pytest.fail(f"total_count {count} not read within {within}s")


@module_loop
@pytest.mark.parametrize(
    "policy, mode",
    [
        ("Basic256Sha256", "SignAndEncrypt"),
        ("Aes256Sha256RsaPss", "SignAndEncrypt"),
        ("Aes128Sha256RsaOaep", "SignAndEncrypt"),
        ("Aes128Sha256RsaOaep", "Sign"),
    ],
)
async def test_it_reads_over_a_secured_session(
    secure_plant: SecurePlant, certificates: Certificates, policy: str, mode: str
) -> None:
    settings = secure_settings(secure_plant, certificates.collector, policy, mode)
    collector = OpcUaCollector(settings, bindings(secure_plant))
    await collector.connect()
    try:
        channel = collector.client.security_policy
        assert channel.URI == POLICIES[policy].URI
        assert channel.Mode == getattr(ua.MessageSecurityMode, mode)
        assert collector.subscribed
        secure_plant.machine.total_count += 5
        await count_seen(collector, secure_plant.machine.total_count)
    finally:
        await collector.close()


@module_loop
async def test_it_accepts_the_server_certificate_it_was_told_to_trust(
    secure_plant: SecurePlant, certificates: Certificates
) -> None:
    settings = secure_settings(
        secure_plant, certificates.collector, "Aes256Sha256RsaPss", "SignAndEncrypt",
        server_certificate=certificates.server.certificate_pem,
    )
    collector = OpcUaCollector(settings, bindings(secure_plant))
    await collector.connect()
    try:
        await count_seen(collector, secure_plant.machine.total_count)
    finally:
        await collector.close()


@module_loop
async def test_it_refuses_a_server_that_is_not_the_one_it_trusts(
    secure_plant: SecurePlant, certificates: Certificates
) -> None:
    settings = secure_settings(
        secure_plant, certificates.collector, "Basic256Sha256", "SignAndEncrypt",
        server_certificate=certificates.stranger.certificate_pem,
    )
    collector = OpcUaCollector(settings, bindings(secure_plant))
    with pytest.raises(CollectorError, match="cannot connect"):
        await collector.connect()
    assert collector.client is None


@module_loop
async def test_a_client_without_a_certificate_is_refused(secure_plant: SecurePlant) -> None:
    collector = OpcUaCollector(OpcUaSettings(url=secure_plant.server.url, timeout=1.0), bindings(secure_plant))
    with pytest.raises(CollectorError, match="cannot connect"):
        await collector.connect()
    assert collector.client is None


@module_loop
async def test_the_server_refuses_a_session_on_an_unsecured_channel(secure_plant: SecurePlant) -> None:
    # A client that skips the endpoint check asyncua's Client does, to reach the server's own guard.
    intruder = Client(secure_plant.server.url, timeout=1.0)
    await intruder.connect_socket()
    try:
        await intruder.send_hello()
        await intruder.open_secure_channel()
        await intruder.uaclient.create_session(
            ua.CreateSessionParameters(
                ClientDescription=ua.ApplicationDescription(
                    ApplicationUri="urn:intruder", ApplicationType=ua.ApplicationType.Client
                ),
                EndpointUrl=secure_plant.server.url,
                SessionName="intruder",
                ClientNonce=create_nonce(32),
                RequestedSessionTimeout=10_000,
            )
        )
        with pytest.raises(ua.UaStatusCodeError) as refused:
            await intruder.activate_session()
        assert refused.value.code == ua.StatusCodes.BadUserAccessDenied
        with pytest.raises(ua.UaStatusCodeError):
            await intruder.get_node("ns=2;s=MIXER-1.TotalCount").read_value()
    finally:
        intruder.disconnect_socket()


@module_loop
async def test_a_client_whose_certificate_is_not_trusted_is_refused(
    secure_plant: SecurePlant, certificates: Certificates
) -> None:
    settings = secure_settings(secure_plant, certificates.stranger, "Basic256Sha256", "SignAndEncrypt")
    collector = OpcUaCollector(settings, bindings(secure_plant))
    with pytest.raises(CollectorError, match="BadCertificateUntrusted"):
        await collector.connect()


@module_loop
async def test_a_secure_mode_without_a_key_is_a_configuration_error(secure_plant: SecurePlant) -> None:
    settings = OpcUaSettings(
        url=secure_plant.server.url, security_mode="SignAndEncrypt", security_policy="Basic256Sha256"
    )
    with pytest.raises(CollectorError, match="needs a client certificate and key"):
        await OpcUaCollector(settings, bindings(secure_plant)).connect()


def test_the_certificate_names_its_application_for_opc_ua(certificates: Certificates) -> None:
    certificate = load_certificate(certificates.collector.certificate_pem)
    alt_names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt_names.get_values_for_type(x509.UniformResourceIdentifier) == [COLLECTOR_URI]
    assert "localhost" in alt_names.get_values_for_type(x509.DNSName)
    assert application_uri_of(certificates.collector.certificate_pem) == COLLECTOR_URI
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and usage.data_encipherment and usage.content_commitment
    client_usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(client_usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    server_certificate = load_certificate(certificates.server.certificate_pem)
    server_usage = server_certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(server_usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_a_certificate_must_be_for_a_client_or_a_server() -> None:
    with pytest.raises(ValueError):
        generate_application_certificate("urn:x", "x", client=False, server=False)
