"""The indexer's ``logferry_elasticsearch_*`` metrics against the real cluster: they say what
Elasticsearch itself says (status, disk use, watermarks, write blocks), and a cluster that cannot
be read is counted, not hidden. About 10 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch

from loadtest.harness.launch import free_port
from tests.integration.indexer.support import IndexerProcess, Names

pytestmark = pytest.mark.timeout(120)


async def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


async def _blocked_indices(es: AsyncElasticsearch, block: str) -> set[str]:
    answer = await es.indices.get_settings(
        index="_all", name=f"index.blocks.{block}", flat_settings=True, expand_wildcards="all"
    )
    return {
        index
        for index, body in answer.body.items()
        if body["settings"].get(f"index.blocks.{block}") == "true"
    }


async def test_health_metrics_say_what_the_cluster_says(
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    indexer = indexer_factory(health_interval_s=0.5)
    indexer.start()
    status = (await es.cluster.health())["status"]
    await _eventually(
        lambda: indexer.metric("logferry_elasticsearch_health_reads_total") >= 2, "two reads"
    )
    assert indexer.metric("logferry_elasticsearch_cluster_status", status=status) == 1
    assert (
        sum(
            indexer.metric("logferry_elasticsearch_cluster_status", status=s)
            for s in ("green", "yellow", "red")
        )
        == 1
    )
    assert indexer.metric("logferry_elasticsearch_health_read_failures_total") == 0
    assert indexer.metric("logferry_elasticsearch_health_last_read_timestamp_seconds") > (
        time.time() - 10
    )

    # Disk: Elasticsearch's own numbers for its one node (used = total - available).
    stats: dict[str, Any] = (await es.nodes.stats(metric="fs")).body
    (node,) = stats["nodes"].values()
    total = node["fs"]["total"]
    used = 1 - total["available_in_bytes"] / total["total_in_bytes"]
    exported = indexer.metric("logferry_elasticsearch_node_disk_used_ratio", node=node["name"])
    assert exported == pytest.approx(used, abs=0.01)
    # The local stack leaves the watermarks at their defaults (85/90/95 %, capped by headroom).
    for watermark, default in (("low", 0.85), ("high", 0.90), ("flood_stage", 0.95)):
        ratio = indexer.metric(
            "logferry_elasticsearch_node_disk_watermark_ratio",
            node=node["name"],
            watermark=watermark,
        )
        assert default <= ratio < 1, watermark

    # A flood-stage block (set by hand here) is counted within a read or two, by its kind, and
    # the count drops when it is lifted.
    index = f"{names.prefix}-blocked"
    block = "read_only_allow_delete"
    await es.indices.create(index=index, settings={"number_of_replicas": 0})
    try:
        await es.indices.put_settings(index=index, settings={f"index.blocks.{block}": True})
        assert index in await _blocked_indices(es, block)
        await _eventually(
            lambda: (
                indexer.metric("logferry_elasticsearch_write_blocked_indices", block=block) >= 1
            ),
            "the blocked index to be counted",
        )
    finally:
        await es.indices.put_settings(index=index, settings={f"index.blocks.{block}": None})
    remaining = await _blocked_indices(es, block)
    await _eventually(
        lambda: (
            indexer.metric("logferry_elasticsearch_write_blocked_indices", block=block)
            == len(remaining)
        ),
        "the count to drop with the block",
    )


async def test_a_cluster_that_cannot_be_read_is_counted(
    names: Names, indexer_factory: Callable[..., IndexerProcess]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    indexer = indexer_factory(health_interval_s=0.5, elasticsearch={"url": nowhere})
    indexer.start()  # /healthz answers; /readyz would not
    await _eventually(
        lambda: indexer.metric("logferry_elasticsearch_health_read_failures_total") >= 2,
        "failed reads to be counted",
    )
    # Never read: no status is claimed, and the last good read is never.
    assert indexer.metric("logferry_elasticsearch_health_last_read_timestamp_seconds") == 0
    assert "logferry_elasticsearch_cluster_status{" not in indexer.metrics()
