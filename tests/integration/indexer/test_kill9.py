"""`kill -9` of the indexer at random moments while events arrive, restarted each time: still
exactly one document per event, and no dead letters."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import (
    EventFactory,
    IndexerProcess,
    Names,
    Publisher,
    count,
    days_ago_of,
    documents,
    line,
    seq_of,
    wait_for_count,
)
from tests.integration.support import wait_for

EVENTS = 36_000  # published over 24 s: the fourth kill still lands while events arrive
RATE_PER_S = 1500
KILLS = 4


async def test_kill9_at_random_moments_loses_nothing_and_duplicates_nothing(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    rng = random.Random(20261123)
    events = EventFactory("payments").events(
        line(i, days_ago=days_ago_of(i)) for i in range(EVENTS)
    )
    # Small bulks, several in flight: a kill lands with bulks half done and offsets uncommitted.
    indexer = indexer_factory(
        kafka={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
        bulk={"max_documents": 300, "max_in_flight": 4},
    )
    indexer.start()
    publisher = Publisher(kafka_bootstrap, kafka_topic, events, RATE_PER_S)
    publishing = asyncio.create_task(publisher.run())
    at_kill: list[tuple[int, int]] = []  # (indexed, published) when each kill landed
    try:
        for _ in range(KILLS):
            # Wait until this incarnation writes (after a kill -9 the group first waits out the
            # dead member's session), then kill it at a random moment of its work.
            before = await count(es, names.logs)
            await wait_for_count(es, names.logs, before + 1, timeout_s=30)
            # Soon after it starts there is a backlog (events queued while the group waited for
            # the dead member), so the kill lands with bulks in flight and offsets uncommitted;
            # the indexer drains ~9,000 queued events in well under a second.
            await asyncio.sleep(rng.uniform(0.0, 0.15))
            indexer.kill9()
            at_kill.append((await count(es, names.logs), publisher.published))
            indexer.start()
        await publishing
    finally:
        publishing.cancel()

    print(f"\nindexed/published at each kill: {at_kill}")
    assert sum(0 < indexed < published for indexed, published in at_kill) >= KILLS - 1
    assert await wait_for_count(es, names.logs, EVENTS, timeout_s=90) == EVENTS, indexer.tail()
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    docs = await documents(es, names.logs)
    assert sorted(seq_of(d) for d in docs) == list(range(EVENTS))
    assert len({d["_id"] for d in docs}) == EVENTS
    assert await count(es, names.deadletters) == 0
    assert indexer.metric("logferry_indexer_dead_letters_total") == 0
    assert indexer.stop() == 0
