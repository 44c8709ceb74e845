"""Elasticsearch stopped for 30 s mid-stream: consumption pauses, nothing is committed, and
when it is back the indexer catches up by itself — nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import time
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

RATE_PER_S = 800
OUTAGE_S = 30


async def test_elasticsearch_down_for_30s_pauses_and_resumes_without_loss_or_duplicates(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
    elasticsearch_outage: Callable[[str], None],
) -> None:
    events = EventFactory("checkout").events(line(i) for i in range(RATE_PER_S * 60))
    indexer = indexer_factory(bulk={"max_documents": 500, "retry_backoff_max_s": 2})
    indexer.start()
    publisher = Publisher(kafka_bootstrap, kafka_topic, events, RATE_PER_S)
    publishing = asyncio.create_task(publisher.run())
    try:
        assert await wait_for_count(es, names.logs, 2000, timeout_s=30) >= 2000
        elasticsearch_outage("down")
        down_at = time.monotonic()
        await asyncio.sleep(5)
        commits_early = indexer.metric("logferry_indexer_commits_total")
        up_during = indexer.metric("logferry_indexer_elasticsearch_up")
        status_during, ready_during = indexer.readyz()
        await asyncio.sleep(OUTAGE_S - (time.monotonic() - down_at))
        paused_during = indexer.metric("logferry_indexer_consumption_paused")
        lag_during = indexer.metric("logferry_indexer_consumer_lag_records")
        commits_late = indexer.metric("logferry_indexer_commits_total")
        failures = indexer.metric("logferry_indexer_bulk_failures_total")
        elasticsearch_outage("up")
        await asyncio.sleep(2)
        publisher.events = events[: publisher.published + 1]  # stop soon after the outage
        await publishing
    finally:
        publishing.cancel()
    total = publisher.published

    assert up_during == 0
    assert status_during == 503 and ready_during["checks"]["elasticsearch"] is False
    assert paused_during == 1, "consumption did not pause while every bulk was failing"
    assert commits_late == commits_early, "offsets were committed while Elasticsearch was down"
    assert failures > 0
    assert lag_during > RATE_PER_S * 10  # the topic held what arrived meanwhile

    assert await wait_for_count(es, names.logs, total, timeout_s=90) == total, indexer.tail()
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    docs = await documents(es, names.logs)
    assert sorted(seq_of(d) for d in docs) == list(range(total))
    assert await count(es, names.deadletters) == 0
    assert indexer.metric("logferry_indexer_elasticsearch_up") == 1
    assert indexer.readyz()[0] == 200
    assert indexer.stop() == 0
