"""/readyz of an indexer started while one dependency is down names that one, not the other.
About 5 s: two indexers, each with one dependency at a port nobody listens on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.indexer.support import IndexerProcess
from tests.integration.support import free_port, wait_for


def _checks(indexer: IndexerProcess) -> dict[str, Any]:
    status, body = indexer.readyz()
    assert status == 503, body
    checks: dict[str, Any] = body["checks"]
    return checks


def test_elasticsearch_down_at_start_is_named_and_kafka_is_not_blamed(
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    indexer = indexer_factory(elasticsearch={"url": f"http://127.0.0.1:{free_port()}"})
    indexer.start()
    wait_for(lambda: _checks(indexer)["kafka"] is True, timeout_s=20)
    checks = _checks(indexer)
    assert checks["elasticsearch"] is False and checks["templates"] is False
    assert indexer.metric("logferry_indexer_kafka_up") == 1
    assert indexer.metric("logferry_indexer_elasticsearch_up") == 0
    assert indexer.stop() == 0


def test_kafka_down_at_start_is_named_and_elasticsearch_is_not_blamed(
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    indexer = indexer_factory(kafka={"url": f"kafka://127.0.0.1:{free_port()}/nowhere"})
    indexer.start()
    wait_for(lambda: _checks(indexer)["elasticsearch"] is True, timeout_s=20)
    assert _checks(indexer)["kafka"] is False
    assert indexer.stop() == 0
