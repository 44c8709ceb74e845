"""Fixtures that find the real services and give each test its own topic and index.

Services come from LOGFERRY_KAFKA, LOGFERRY_ES, LOGFERRY_PROMETHEUS, LOGFERRY_ALERTMANAGER,
defaulting to the local stack (`shipper stack up`). An unreachable service skips the test on
a laptop but fails it under CI=true: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import socket
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import AsyncElasticsearch


@dataclass(frozen=True)
class Services:
    """Where the real services listen."""

    kafka: str
    elasticsearch: str
    prometheus: str
    alertmanager: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def _unavailable(service: str, address: str, why: str) -> None:
    message = f"{service} is unreachable at {address} ({why}); start it with `shipper stack up`"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _require_tcp(service: str, address: str) -> None:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        _unavailable(service, address, str(exc))


def _require_http(service: str, url: str, path: str) -> None:
    try:
        urllib.request.urlopen(url.rstrip("/") + path, timeout=5).close()
    except OSError as exc:
        _unavailable(service, url, str(exc))


@pytest.fixture(scope="session")
def services() -> Services:
    """The service addresses, from the environment or the local stack's defaults."""
    return Services(
        kafka=os.environ.get("LOGFERRY_KAFKA", "127.0.0.1:9092"),
        elasticsearch=os.environ.get("LOGFERRY_ES", "http://127.0.0.1:9200"),
        prometheus=os.environ.get("LOGFERRY_PROMETHEUS", "http://127.0.0.1:9090"),
        alertmanager=os.environ.get("LOGFERRY_ALERTMANAGER", "http://127.0.0.1:9093"),
    )


@pytest.fixture
def kafka_bootstrap(services: Services) -> str:
    """Kafka's bootstrap address, once it answers."""
    for address in services.kafka.split(","):
        _require_tcp("Kafka", urlsplit(f"//{address}").netloc)
    return services.kafka


@pytest.fixture
async def kafka_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh topic (3 partitions) for this test, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.fixture
def elasticsearch_url(services: Services) -> str:
    """Elasticsearch's URL, once it answers."""
    _require_http("Elasticsearch", services.elasticsearch, "/_cluster/health")
    return services.elasticsearch


@pytest.fixture
async def es(elasticsearch_url: str) -> AsyncIterator[AsyncElasticsearch]:
    """An async Elasticsearch client."""
    client = AsyncElasticsearch(elasticsearch_url, request_timeout=30)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def es_index(es: AsyncElasticsearch) -> AsyncIterator[str]:
    """A unique index name for this test; the index (if created) is deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    await es.options(ignore_status=404).indices.delete(index=name)


@pytest.fixture
def prometheus_url(services: Services) -> str:
    """Prometheus's URL, once it is ready."""
    _require_http("Prometheus", services.prometheus, "/-/ready")
    return services.prometheus


@pytest.fixture
def alertmanager_url(services: Services) -> str:
    """Alertmanager's URL, once it is ready."""
    _require_http("Alertmanager", services.alertmanager, "/-/ready")
    return services.alertmanager
