"""The local stack's secure mode: TLS and authentication on Kafka and Elasticsearch.

What `shipper stack up --secure` adds to each service, as fragments its plain configuration
is rewritten with, and the credentials it provisions:

- Kafka: its client listener becomes SASL_SSL (SCRAM-SHA-512, one user created when the
  storage is formatted); brokers talk to each other on it too. The KRaft controller listener
  stays PLAINTEXT on the stack's loopback address.
- Elasticsearch: x-pack security with TLS on HTTP and transport; two users of the file realm
  (``logferry``, with the ``logferry`` role of ``roles.yml``, and ``logferry-admin``, a superuser
  for the stack itself and an operator), written as PBKDF2 hashes, no JVM tool to run; once the
  cluster answers, an API key of ``logferry`` is created through the REST API (which needs the
  analysis plugin of :mod:`shipper.stack.analysis`).

Everything lives under ``<state dir>/secure/``: the throwaway CA and server certificate, the
generated secrets in ``credentials.json`` (mode 0600) and ready-made client configs for the
shipper and the indexer (``shipper.yml``, ``indexer.yml``, also 0600 since they carry the
secrets). Nothing here prints a secret: the paths are what the CLI shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import ssl
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shipper.errors import ServiceStartError
from shipper.stack.certificates import CertificateFiles, issue_certificates

__all__ = [
    "ES_ADMIN",
    "ES_ROLE",
    "ES_USER",
    "KAFKA_MECHANISM",
    "KAFKA_USER",
    "Credentials",
    "SecureMaterial",
    "describe",
    "elasticsearch_config",
    "elasticsearch_request",
    "enabled",
    "kafka_client_options",
    "kafka_format_arguments",
    "kafka_properties",
    "kafka_security",
    "material",
    "provision_elasticsearch",
    "remember",
    "write_client_configs",
    "write_private",
]

KAFKA_USER = "logferry"
KAFKA_MECHANISM = "SCRAM-SHA-512"
ES_USER = "logferry"
ES_ADMIN = "logferry-admin"
ES_ROLE = "logferry"
_ES_ROLES_YML = f"""\
# What setup (templates, ILM), the indexer (bulk, health), search and retention need.
{ES_ROLE}:
  cluster: [monitor, manage_index_templates, manage_ilm, manage_own_api_key]
  indices:
    - names: ['*']
      privileges: [all]
"""
_PBKDF2_ROUNDS = 10_000
_TIMEOUT_S = 10.0
_PROVISION_TIMEOUT_S = 120.0
"""The first API key creates the ``.security`` index: a minute on a loaded two-core machine."""


def _secret() -> str:
    # URL-safe: no quote, comma or bracket to escape in JAAS or in StorageTool's --add-scram.
    return secrets.token_urlsafe(24)


def write_private(path: Path, text: str) -> None:
    """Write *text* to *path* with mode 0600, never readable by others even for an instant."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT


@dataclass
class Credentials:
    """The generated secrets: Kafka's SCRAM user, Elasticsearch's users and API key."""

    kafka_username: str = KAFKA_USER
    kafka_password: str = field(default_factory=_secret)
    elasticsearch_username: str = ES_USER
    elasticsearch_password: str = field(default_factory=_secret)
    admin_username: str = ES_ADMIN
    admin_password: str = field(default_factory=_secret)
    """A superuser of the file realm: for the stack itself (probes, the API key) and an operator."""
    api_key: str | None = None
    """base64 ``id:key`` of the ``logferry`` user's API key, once Elasticsearch made it."""

    @classmethod
    def load_or_create(cls, path: Path) -> Credentials:
        if path.is_file():
            return cls(**json.loads(path.read_text()))
        credentials = cls()
        credentials.save(path)
        return credentials

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2) + "\n")


@dataclass(frozen=True)
class SecureMaterial:
    """The secure mode's files under ``<state dir>/secure`` and the secrets in them."""

    dir: Path
    certificates: CertificateFiles
    credentials: Credentials

    @property
    def credentials_file(self) -> Path:
        return self.dir / "credentials.json"

    @property
    def kafka_keystore(self) -> Path:
        """Kafka's PEM key store: the server key followed by its certificate chain."""
        return self.dir / "kafka-keystore.pem"

    @property
    def shipper_config(self) -> Path:
        return self.dir / "shipper.yml"

    @property
    def indexer_config(self) -> Path:
        return self.dir / "indexer.yml"

    def secrets(self) -> list[str]:
        """Every secret, for masking what a tool printed."""
        c = self.credentials
        values = [c.kafka_password, c.elasticsearch_password, c.admin_password, c.api_key]
        return [v for v in values if v]

    def mask(self, text: str) -> str:
        for value in self.secrets():
            text = text.replace(value, "***")
        return text

    def save_credentials(self) -> None:
        self.credentials.save(self.credentials_file)


def _marker(state_dir: Path) -> Path:
    return state_dir.resolve() / "secure" / "enabled"


def enabled(state_dir: Path, requested: bool) -> bool:
    """Whether the stack of *state_dir* runs secure: asked for now, or started so by `up`.

    `status` and `down` without ``--secure`` then still probe a secure stack the way it answers.
    """
    return requested or _marker(state_dir).exists()


def remember(state_dir: Path, secure: bool) -> None:
    """Record the mode `up` starts Kafka and Elasticsearch in (one mode per state dir)."""
    if secure:
        _marker(state_dir).parent.mkdir(parents=True, exist_ok=True)
        _marker(state_dir).touch()
    else:
        _marker(state_dir).unlink(missing_ok=True)


def material(state_dir: Path) -> SecureMaterial:
    """The CA, certificate and credentials of *state_dir*'s stack, made on first use (idempotent).

    The certificate is made anew when it is missing or expires within a day.
    """
    directory = state_dir.resolve() / "secure"
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    files = CertificateFiles.under(directory)
    if not files.exist() or _expires_soon(files.certificate):
        files = issue_certificates(directory)
    secure = SecureMaterial(
        directory, files, Credentials.load_or_create(directory / "credentials.json")
    )
    keystore = files.key.read_text() + files.certificate.read_text()
    if not secure.kafka_keystore.is_file() or secure.kafka_keystore.read_text() != keystore:
        write_private(secure.kafka_keystore, keystore)
    return secure


def describe(state_dir: Path) -> list[str]:
    """Where a user finds the secure stack's files (what `up` and `status` print; no secret)."""
    directory = state_dir.resolve() / "secure"
    files = CertificateFiles.under(directory)
    return [
        "secure mode: Kafka SASL_SSL (SCRAM-SHA-512), Elasticsearch over TLS with authentication",
        f"  CA certificate:  {files.ca}",
        f"  credentials:     {directory / 'credentials.json'} (mode 0600)",
        f"  shipper config:  {directory / 'shipper.yml'} (its output section; mode 0600)",
        f"  indexer config:  {directory / 'indexer.yml'} (kafka and elasticsearch; mode 0600)",
    ]


def _expires_soon(certificate: Path) -> bool:
    import datetime

    from cryptography import x509

    loaded = x509.load_pem_x509_certificate(certificate.read_bytes())
    remaining = loaded.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return remaining < datetime.timedelta(days=1)


# --- Kafka -----------------------------------------------------------------------------------


def kafka_properties(properties: str, secure: SecureMaterial) -> str:
    """A broker's plain ``server.properties`` rewritten for SASL_SSL.

    Works on any node's file: its PLAINTEXT listener becomes SASL_SSL (same address), brokers
    talk to each other on it with the same SCRAM user, and the controller listener is left alone.
    """
    c = secure.credentials
    lines = []
    for line in properties.splitlines():
        key, _, value = line.partition("=")
        if key in ("listeners", "advertised.listeners"):
            value = value.replace("PLAINTEXT://", "SASL_SSL://")
        elif key == "listener.security.protocol.map":
            value = value.replace("PLAINTEXT:PLAINTEXT", "SASL_SSL:SASL_SSL")
        elif key == "inter.broker.listener.name" and value == "PLAINTEXT":
            value = "SASL_SSL"
        lines.append(f"{key}={value}" if _ else line)
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{c.kafka_username}" password="{c.kafka_password}";'
    )
    lines += [
        f"sasl.enabled.mechanisms={KAFKA_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={KAFKA_MECHANISM}",
        f"listener.name.sasl_ssl.{KAFKA_MECHANISM.lower()}.sasl.jaas.config={jaas}",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={secure.kafka_keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={secure.certificates.ca}",
        "ssl.endpoint.identification.algorithm=https",
        "",
    ]
    return "\n".join(lines)


def kafka_format_arguments(secure: SecureMaterial) -> list[str]:
    """What `kafka-storage format` adds so the SCRAM user exists from the first start."""
    c = secure.credentials
    return [
        "--add-scram",
        f"{KAFKA_MECHANISM}=[name={c.kafka_username},password={c.kafka_password}]",
    ]


def kafka_security(secure: SecureMaterial) -> dict[str, Any]:
    """The Kafka client settings (shipper ``output``, indexer ``kafka``) of the secure stack."""
    c = secure.credentials
    return {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": str(secure.certificates.ca),
        "sasl_mechanism": KAFKA_MECHANISM,
        "sasl_username": c.kafka_username,
        "sasl_password": c.kafka_password,
    }


def kafka_client_options(secure: SecureMaterial) -> dict[str, Any]:
    """aiokafka keyword arguments (admin client, consumer, producer) for the secure stack."""
    from shipper.sinks.kafka import KafkaSecurityConfig

    return KafkaSecurityConfig.model_validate(kafka_security(secure)).client_options()


# --- Elasticsearch ---------------------------------------------------------------------------


def _pbkdf2(password: str) -> str:
    """A hash Elasticsearch's file realm verifies: ``{PBKDF2}rounds$salt$key``, HMAC-SHA512."""
    salt = secrets.token_bytes(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS, 32)
    b64 = base64.b64encode
    return f"{{PBKDF2}}{_PBKDF2_ROUNDS}${b64(salt).decode()}${b64(key).decode()}"


def elasticsearch_config(config: str, conf: Path, secure: SecureMaterial) -> str:
    """A node's plain ``elasticsearch.yml`` (*config*) with security on; writes the TLS files
    and file-realm users into its config dir *conf*.

    Elasticsearch reads TLS files only from its config directory: they are copied there. Under
    `unshare --user` it runs as our uid mapped, so files of mode 0600 stay readable to it.
    """
    c = secure.credentials
    certs = conf / "certs"
    certs.mkdir(exist_ok=True)
    for source, name in (
        (secure.certificates.ca, "ca.crt"),
        (secure.certificates.certificate, "server.crt"),
        (secure.certificates.key, "server.key"),
    ):
        shutil.copyfile(source, certs / name)
    os.chmod(certs / "server.key", 0o600)
    write_private(
        conf / "users",
        f"{c.elasticsearch_username}:{_pbkdf2(c.elasticsearch_password)}\n"
        f"{c.admin_username}:{_pbkdf2(c.admin_password)}\n",
    )
    write_private(
        conf / "users_roles",
        f"{ES_ROLE}:{c.elasticsearch_username}\nsuperuser:{c.admin_username}\n",
    )
    (conf / "roles.yml").write_text(_ES_ROLES_YML)
    lines = ["xpack.security.enabled: true"]
    for layer in ("http", "transport"):
        lines += [
            f"xpack.security.{layer}.ssl.enabled: true",
            f"xpack.security.{layer}.ssl.key: certs/server.key",
            f"xpack.security.{layer}.ssl.certificate: certs/server.crt",
            f"xpack.security.{layer}.ssl.certificate_authorities: [certs/ca.crt]",
        ]
    lines.append("xpack.security.transport.ssl.verification_mode: full")
    return config.replace("xpack.security.enabled: false\n", "\n".join(lines) + "\n")


def _context(secure: SecureMaterial) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(secure.certificates.ca))


def elasticsearch_request(
    url: str,
    path: str,
    secure: SecureMaterial,
    *,
    body: dict[str, Any] | None = None,
    method: str | None = None,
    user: tuple[str, str] | None = None,
    api_key: str | None = None,
    timeout_s: float = _TIMEOUT_S,
) -> Any:
    """One JSON request over TLS, as the admin user unless *user* or *api_key* is given."""
    if api_key is not None:
        authorization = f"ApiKey {api_key}"
    else:
        name, password = user or (
            secure.credentials.admin_username,
            secure.credentials.admin_password,
        )
        authorization = "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Authorization": authorization, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s, context=_context(secure)) as answer:
        return json.load(answer)


def provision_elasticsearch(
    url: str, secure: SecureMaterial, *, every_node: str | None = None
) -> None:
    """Create the ``logferry`` user's API key through *url* (idempotent), then write the client
    configs, naming *every_node* (a comma-separated list) where given.

    A key that no longer authenticates (a purged data dir, a new cluster) is made anew. The
    first key creates the ``.security`` index, which takes a while on a busy machine.
    """
    try:
        _provision(url, secure)
    except (OSError, ValueError, KeyError) as exc:
        raise ServiceStartError(
            f"elasticsearch: creating the API key failed: {secure.mask(str(exc))}"
        ) from exc
    write_client_configs(secure, elasticsearch_url=every_node or url)


def _provision(url: str, secure: SecureMaterial) -> None:
    c = secure.credentials
    if c.api_key is not None:
        try:
            elasticsearch_request(url, "/_security/_authenticate", secure, api_key=c.api_key)
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise
            c.api_key = None
    if c.api_key is None:
        created = elasticsearch_request(
            url,
            "/_security/api_key",
            secure,
            body={"name": "logferry-local-stack"},
            user=(c.elasticsearch_username, c.elasticsearch_password),
            timeout_s=_PROVISION_TIMEOUT_S,
        )
        c.api_key = str(created["encoded"])
        secure.save_credentials()


def write_client_configs(
    secure: SecureMaterial, *, elasticsearch_url: str | None = None, kafka: str | None = None
) -> None:
    """``shipper.yml`` and ``indexer.yml`` snippets with the secure settings (0600).

    Each call fills in what it knows (the Kafka address, the Elasticsearch URL) and keeps what
    an earlier call wrote: Kafka and Elasticsearch become healthy one after the other.
    """
    indexer: dict[str, Any] = (
        yaml.safe_load(secure.indexer_config.read_text()) if secure.indexer_config.is_file() else {}
    ) or {}
    shipper: dict[str, Any] = (
        yaml.safe_load(secure.shipper_config.read_text()) if secure.shipper_config.is_file() else {}
    ) or {}
    if kafka is not None:
        indexer["kafka"] = {"url": f"kafka://{kafka}/app-logs", **kafka_security(secure)}
        shipper["output"] = {"url": f"kafka://{kafka}/app-logs", "kafka": kafka_security(secure)}
    if elasticsearch_url is not None and secure.credentials.api_key is not None:
        indexer["elasticsearch"] = {
            "url": elasticsearch_url,
            "api_key": secure.credentials.api_key,
            "ca_certs": str(secure.certificates.ca),
        }
    header = (
        "# Written by `shipper stack up --secure`: the secure local stack's client settings.\n"
        "# Holds secrets (mode 0600); made anew with the stack's state dir.\n"
    )
    if shipper:
        write_private(secure.shipper_config, header + yaml.safe_dump(shipper, sort_keys=False))
    if indexer:
        write_private(secure.indexer_config, header + yaml.safe_dump(indexer, sort_keys=False))
