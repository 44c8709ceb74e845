"""Two indexers in one group: the second one's arrival makes the first commit what is settled
and hand partitions over; one killed mid-stream, the other takes over. Exactly one document
per event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import (
    EventFactory,
    IndexerProcess,
    Names,
    Publisher,
    count,
    documents,
    line,
    seq_of,
    wait_for_count,
)
from tests.integration.support import wait_for

EVENTS = 24_000
RATE_PER_S = 1500
GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


async def test_two_indexers_one_killed_mid_stream_index_each_event_once(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    events = EventFactory("inventory").events(line(i) for i in range(EVENTS))
    first = indexer_factory("first", kafka=GROUP, bulk={"max_documents": 300})
    second = indexer_factory("second", kafka=GROUP, bulk={"max_documents": 300})
    publisher = Publisher(kafka_bootstrap, kafka_topic, events, RATE_PER_S)
    first.start()
    publishing = asyncio.create_task(publisher.run())
    try:
        assert await wait_for_count(es, names.logs, 1000, timeout_s=30) >= 1000
        second.start()
        wait_for(
            lambda: (
                first.metric("logferry_indexer_assigned_partitions") > 0
                and second.metric("logferry_indexer_assigned_partitions") > 0
                and first.metric("logferry_indexer_assigned_partitions")
                + second.metric("logferry_indexer_assigned_partitions")
                == 3
            ),
            timeout_s=30,
        )
        before = await count(es, names.logs)
        await wait_for_count(es, names.logs, before + 2000, timeout_s=30)
        assert second.metric("logferry_indexer_documents_indexed_total") > 0
        second.kill9()
        killed_at = (await count(es, names.logs), publisher.published)
        await publishing
    finally:
        publishing.cancel()

    # Killed while it was writing, with the stream still flowing (the survivor may keep up, so
    # "indexed" can equal "published so far").
    assert 0 < killed_at[0] <= killed_at[1] < EVENTS, killed_at
    assert "partitions revoked" in first.tail(100_000)  # and committed what was settled
    assert await wait_for_count(es, names.logs, EVENTS, timeout_s=90) == EVENTS, first.tail()
    wait_for(lambda: first.metric("logferry_indexer_assigned_partitions") == 3, timeout_s=30)
    wait_for(lambda: first.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    docs = await documents(es, names.logs)
    assert sorted(seq_of(d) for d in docs) == list(range(EVENTS))
    assert await count(es, names.deadletters) == 0
    assert first.stop() == 0
