"""Self-signed OPC UA application instance certificates, as PEM text (no Django import).

OPC UA (Part 6 §6.2.2) wants the application URI in the certificate's subjectAltName, the
key usages for signing and encrypting, and the client or server extended key usage.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertificatePair:
    """A certificate and its unencrypted private key, both PEM."""

    certificate_pem: str
    private_key_pem: str


def generate_application_certificate(
    application_uri: str,
    common_name: str,
    *,
    hostnames: Sequence[str] | None = None,
    ip_addresses: Sequence[str] = ("127.0.0.1",),
    client: bool = True,
    server: bool = False,
    days: int = 365,
    key_size: int = 2048,
) -> CertificatePair:
    """Make a self-signed application instance certificate for `application_uri`.

    `hostnames` default to this machine's name and localhost.
    """
    if hostnames is None:
        hostnames = dict.fromkeys([socket.gethostname(), "localhost"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    alt_names += [x509.DNSName(host) for host in hostnames]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    usages += [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    if not usages:
        raise ValueError("A certificate must be for a client, a server or both.")
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A little slack for clocks that disagree by a few minutes.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificatePair(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
    )


def load_certificate(certificate_pem: str) -> x509.Certificate:
    """Parse a PEM certificate; raises ValueError when it is not one."""
    return x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))


def application_uri_of(certificate_pem: str) -> str | None:
    """The first URI in the certificate's subjectAltName: the OPC UA application URI, if any."""
    try:
        alt_names = load_certificate(certificate_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = alt_names.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def fingerprint(certificate_pem: str) -> bytes:
    """SHA-256 over the certificate's DER bytes: what a trust list compares."""
    return load_certificate(certificate_pem).fingerprint(hashes.SHA256())
