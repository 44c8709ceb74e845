"""A throwaway certificate authority for the local stack's secure mode.

Made at `shipper stack up --secure` time, written under the state dir, never committed: one CA
and one server certificate (127.0.0.1 and localhost) that Kafka's SASL_SSL listener and
Elasticsearch's HTTP and transport layers present. All PEM: Kafka reads PEM key stores and
Elasticsearch's ``xpack.security.*.ssl.certificate`` takes PEM files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateFiles", "issue_certificates"]

_HOSTS = ("127.0.0.1", "localhost")
"""What the server certificate names: the stack binds 127.0.0.1; clients may say localhost."""


@dataclass(frozen=True)
class CertificateFiles:
    """Where the PEM files are."""

    ca: Path
    """The CA certificate: what clients trust (``ssl_cafile``, ``ca_certs``)."""
    certificate: Path
    """The server certificate, followed by the CA's (a full chain)."""
    key: Path
    """The server certificate's private key (PKCS#8, unencrypted)."""

    @classmethod
    def under(cls, directory: Path) -> CertificateFiles:
        return cls(directory / "ca.crt", directory / "server.crt", directory / "server.key")

    def exist(self) -> bool:
        return self.ca.is_file() and self.certificate.is_file() and self.key.is_file()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "logferry local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def issue_certificates(
    directory: Path,
    *,
    hosts: tuple[str, ...] = _HOSTS,
    valid_days: float = 365,
    not_before: datetime.datetime | None = None,
) -> CertificateFiles:
    """Make a CA and a server certificate for *hosts* under *directory*; return their paths.

    *valid_days* and *not_before* are there so that a test can make a certificate that has
    already expired (``not_before`` in the past, ``valid_days`` short).
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles.under(directory)
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(days=valid_days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("logferry local stack CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # Serverauth and clientauth: Elasticsearch's transport layer is both ends of each link.
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    files.ca.write_bytes(ca.public_bytes(pem))
    files.certificate.write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    # Readable by the stack's processes only; Elasticsearch under `unshare --user` sees our
    # files as owned by nobody, so the key must stay world-readable there (see secure.py).
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_pem_key(key))
    return files
