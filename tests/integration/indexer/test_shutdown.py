"""SIGTERM mid-stream: the in-flight bulks are finished and their offsets committed before the
process exits 0 — so the next indexer re-reads nothing that was already written."""

from __future__ import annotations

from collections.abc import Callable

from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import (
    EventFactory,
    IndexerProcess,
    Names,
    count,
    line,
    publish,
    wait_for_count,
)
from tests.integration.support import wait_for

EVENTS = 40_000


async def test_sigterm_finishes_in_flight_bulks_and_commits_them(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    await publish(
        kafka_bootstrap, kafka_topic, EventFactory("orders").events(map(line, range(EVENTS)))
    )
    first = indexer_factory("first", bulk={"max_documents": 500, "max_in_flight": 4})
    first.start()
    await wait_for_count(es, names.logs, 1, timeout_s=30)
    assert first.stop(timeout_s=60) == 0
    written = await count(es, names.logs)
    assert 0 < written < EVENTS, "stopped too late to be mid-stream"
    assert "drain timed out" not in first.tail(100_000)

    second = indexer_factory("second")
    second.start()
    assert await wait_for_count(es, names.logs, EVENTS, timeout_s=60) == EVENTS
    wait_for(lambda: second.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    # Everything the first one wrote was committed: the second one read only the rest.
    assert second.metric("logferry_indexer_records_consumed_total") == EVENTS - written
    assert second.metric("logferry_indexer_documents_duplicate_total") == 0
    assert second.stop() == 0
