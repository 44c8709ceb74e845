"""Fixtures for the indexer's tests: per-test names (index prefix, templates, group), real
`shipper index` processes, and Elasticsearch brought back after an outage test."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import IndexerProcess, Names, delete_prefix


@pytest.fixture
async def names(es: AsyncElasticsearch) -> AsyncIterator[Names]:
    """A prefix of this test's own indices and templates; all deleted afterwards."""
    result = Names(f"lf-{uuid.uuid4().hex[:10]}")
    yield result
    await delete_prefix(es, result.prefix)


@pytest.fixture
def indexer_factory(
    tmp_path: Path, kafka_bootstrap: str, kafka_topic: str, elasticsearch_url: str, names: Names
) -> Iterator[Callable[..., IndexerProcess]]:
    """Builds `shipper index` processes consuming this test's topic; stops them all afterwards."""
    started: list[IndexerProcess] = []

    def make(name: str = "indexer", **overrides: Any) -> IndexerProcess:
        config = names.config(kafka_bootstrap, kafka_topic, elasticsearch_url, **overrides)
        process = IndexerProcess(tmp_path, config, name=name)
        started.append(process)
        return process

    yield make
    for process in started:
        if process.running:
            process.stop()


def stack(command: str, service: str) -> None:
    """`shipper stack COMMAND SERVICE` in a subprocess (never in-process from an async test)."""
    result = subprocess.run(
        [sys.executable, "-m", "shipper", "stack", command, service],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def elasticsearch_outage() -> Iterator[Callable[[str], None]]:
    """`stack down|up elasticsearch`, making sure Elasticsearch is back whatever happens."""
    yield lambda command: stack(command, "elasticsearch")
    stack("up", "elasticsearch")
