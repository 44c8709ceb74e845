"""Tomorrow's indices, created before midnight by a real `shipper index`: the next day's index of
each of today's (logs and dead letters), from the installed templates, and no other. About 10 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import AsyncElasticsearch

from shipper.indexer.ahead import create_ahead
from shipper.indexer.config import load_indexer_config
from tests.integration.indexer.support import IndexerProcess, Names

pytestmark = pytest.mark.timeout(120)


def _day(days_from_today: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days_from_today)).strftime("%Y.%m.%d")


async def _indices(es: AsyncElasticsearch, prefix: str) -> set[str]:
    resolved = await es.indices.resolve_index(name=f"{prefix}-*", expand_wildcards="open,closed")
    return {entry["name"] for entry in resolved.get("indices", [])}


async def test_the_indexer_creates_tomorrow_s_index_of_each_of_today_s(
    es: AsyncElasticsearch, names: Names, indexer_factory: Callable[..., IndexerProcess]
) -> None:
    prefix = names.prefix
    today = {f"{prefix}-orders-{_day(0)}", f"{prefix}-deadletter-{_day(0)}"}
    yesterday_only = f"{prefix}-billing-{_day(-1)}"
    for name in (*today, yesterday_only):
        await es.indices.create(index=name)
    # A whole day ahead: the window is always open, so the indexer does it as it starts.
    indexer = indexer_factory(index={"create_ahead_minutes": 1440})
    indexer.start()
    created = "logferry_indexer_indices_created_ahead_total"
    deadline = time.monotonic() + 30
    while indexer.metric(created, default=0) < 2:  # counted once all are created
        assert time.monotonic() < deadline, f"{sorted(await _indices(es, prefix))}"
        await asyncio.sleep(0.3)
    expected = {f"{prefix}-orders-{_day(1)}", f"{prefix}-deadletter-{_day(1)}"}
    assert await _indices(es, prefix) == today | {yesterday_only} | expected  # not billing's
    assert indexer.metric(created) == 2

    # Created from the templates the indexer installed, as a first write would have made them.
    orders = f"{prefix}-orders-{_day(1)}"
    settings = (await es.indices.get_settings(index=orders, flat_settings=True))[orders]
    assert settings["settings"]["index.refresh_interval"] == "1s"
    assert settings["settings"]["index.number_of_replicas"] == "0"
    mapping = (await es.indices.get_mapping(index=orders))[orders]["mappings"]
    assert mapping["properties"]["@timestamp"]["type"] == "date"


async def test_creating_ahead_again_creates_nothing_and_keeps_what_is_there(
    es: AsyncElasticsearch, names: Names, elasticsearch_url: str
) -> None:
    config = load_indexer_config(
        overrides={
            "elasticsearch": {"url": elasticsearch_url},
            "index": {
                "index_pattern": names.index_pattern,
                "deadletter_pattern": names.deadletter_pattern,
            },
        },
        environ={},
    )
    today_index = f"{names.prefix}-orders-{_day(0)}"
    tomorrow_index = f"{names.prefix}-orders-{_day(1)}"
    await es.indices.create(index=today_index)
    await es.index(index=tomorrow_index, document={"message": "written before midnight"})
    today = datetime.now(UTC).date()
    assert await create_ahead(es, config.index, today) == []
    await es.indices.refresh(index=tomorrow_index)
    assert (await es.count(index=tomorrow_index))["count"] == 1

    await es.indices.delete(index=tomorrow_index)
    assert await create_ahead(es, config.index, today) == [tomorrow_index]
    assert await create_ahead(es, config.index, today) == []
