"""The secure stack the security tests run against: Kafka on SASL_SSL (SCRAM-SHA-512) and
Elasticsearch with TLS and authentication, started by `shipper stack up --secure` beside the
default stack, in its own state dir (.stack-secure) and ports.

Started once per session and stopped and purged at the end; one found running is left running.
Under CI=true a stack that does not come up fails the tests; on a laptop it skips them.
"""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import AsyncElasticsearch

from shipper.process import Supervised
from shipper.stack import StackSettings, chosen
from shipper.stack import secure as secure_mode
from shipper.stack.certificates import CertificateFiles, issue_certificates
from tests.integration.indexer.support import Names, delete_prefix

ROOT = Path(__file__).resolve().parents[3]
SECURE_SETTINGS = {
    "state_dir": str(ROOT / ".stack-secure"),
    "kafka_port": "19392",
    "kafka_controller_port": "29393",
    "elasticsearch_port": "19400",
    "elasticsearch_transport_port": "29400",
}
"""Ports clear of the default stack's and of the topology tests' cluster, and below the
kernel's ephemeral range (32768-60999), where an outgoing connection may hold one for a while."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class SecureStack:
    """The running secure stack and its generated material (CA, credentials)."""

    settings: StackSettings
    material: secure_mode.SecureMaterial

    @property
    def kafka(self) -> str:
        return ",".join(s.url for s in chosen(self.settings, ["kafka"]))

    @property
    def elasticsearch(self) -> str:
        return ",".join(s.url for s in chosen(self.settings, ["elasticsearch"]))

    def kafka_security(self, **changes: Any) -> dict[str, Any]:
        """The Kafka client settings (shipper output.kafka, indexer kafka), with *changes*."""
        return {**secure_mode.kafka_security(self.material), **changes}

    def elasticsearch_config(self, **changes: Any) -> dict[str, Any]:
        """The indexer's elasticsearch section: TLS with the CA, the API key; with *changes*."""
        return {
            "url": self.elasticsearch,
            "api_key": self.material.credentials.api_key,
            "ca_certs": str(self.material.certificates.ca),
            "request_timeout_s": 20,
            **changes,
        }

    def secrets(self) -> list[str]:
        return self.material.secrets()


def _stack(command: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in SECURE_SETTINGS.items()]
    return subprocess.run(
        [sys.executable, "-m", "shipper", "stack", command, *arguments, *options],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def secure_stack() -> Iterator[SecureStack]:
    """Kafka and Elasticsearch with TLS and authentication, up for the session; purged after."""
    settings = StackSettings(**SECURE_SETTINGS, secure=True)  # type: ignore[arg-type]
    found_running = all(
        Supervised.from_pid_file(s.pid_file) is not None
        for s in chosen(settings, ["kafka", "elasticsearch"])
    )
    result = _stack("up", "kafka", "elasticsearch", "--secure")
    if result.returncode != 0:
        message = f"the secure stack did not come up: {result.stdout}{result.stderr}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    stack = SecureStack(settings, secure_mode.material(settings.state_dir))
    # `up` prints where the secrets are, never the secrets.
    assert str(stack.material.credentials_file) in result.stdout
    for secret in stack.secrets():
        assert secret not in result.stdout + result.stderr
    yield stack
    if not found_running:
        _stack("down", "kafka", "elasticsearch", "--purge")


@pytest.fixture
async def secure_es(secure_stack: SecureStack) -> AsyncIterator[AsyncElasticsearch]:
    """A client of the secure cluster, as its admin user (to check and clean up)."""
    c = secure_stack.material.credentials
    client = AsyncElasticsearch(
        secure_stack.elasticsearch,
        basic_auth=(c.admin_username, c.admin_password),
        ca_certs=str(secure_stack.material.certificates.ca),
        request_timeout=30,
    )
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def secure_names(secure_es: AsyncElasticsearch) -> AsyncIterator[Names]:
    """A prefix of this test's own indices and templates on the secure cluster; deleted after."""
    result = Names(f"lf-{uuid.uuid4().hex[:10]}")
    yield result
    await delete_prefix(secure_es, result.prefix)


@pytest.fixture
async def secure_topic(secure_stack: SecureStack) -> AsyncIterator[str]:
    """A fresh topic (3 partitions) on the secure Kafka, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(
        bootstrap_servers=secure_stack.kafka,
        **secure_mode.kafka_client_options(secure_stack.material),
    )
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def untrusted_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """Another throwaway CA: the secure stack's certificates are not signed by it."""
    return issue_certificates(tmp_path_factory.mktemp("untrusted-ca"))


@dataclass(frozen=True)
class ExpiredServer:
    """A TLS server whose certificate expired; its CA is what a client would trust."""

    address: str
    certificates: CertificateFiles


@pytest.fixture(scope="session")
def expired_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExpiredServer]:
    """Answers TLS handshakes with a certificate that expired days ago (a broker or a node
    whose certificate nobody renewed): clients trusting its CA must still refuse it."""
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    files = issue_certificates(tmp_path_factory.mktemp("expired"), not_before=past, valid_days=1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certificate, files.key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def handshake(client: socket.socket) -> None:
        try:
            client.settimeout(10)
            with context.wrap_socket(client, server_side=True) as tls:
                tls.recv(1)
        except OSError:  # the client refuses the certificate: what the tests want
            pass

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handshake, args=(client,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield ExpiredServer(f"127.0.0.1:{server.getsockname()[1]}", files)
    stop.set()
    thread.join()
    server.close()
