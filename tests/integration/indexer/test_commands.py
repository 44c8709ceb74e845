"""`shipper setup` (idempotent, dry run, what the cluster lacks), `shipper retention` and
`shipper search` / `shipper trace`, run as the real command."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import Names, count


def shipper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipper", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
async def fresh_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic name nobody created yet; deleted afterwards if `setup` created it."""
    name = f"test-setup-{uuid.uuid4().hex[:10]}"
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        if name in await admin.list_topics():
            await admin.delete_topics([name])
    finally:
        await admin.close()


def write_config(tmp_path: Path, config: dict[str, object]) -> Path:
    path = tmp_path / "indexer.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_setup_installs_once_reports_what_is_lacking_and_then_changes_nothing(
    tmp_path: Path,
    kafka_bootstrap: str,
    fresh_topic: str,
    elasticsearch_url: str,
    es: AsyncElasticsearch,
    names: Names,
) -> None:
    config = names.config(
        kafka_bootstrap,
        fresh_topic,
        elasticsearch_url,
        kafka={"topic_partitions": 2, "topic_retention_ms": 3_600_000},
    )
    path = write_config(tmp_path, config)

    dry = shipper("setup", "--config", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would create" in dry.stdout and "dry run: 5 change(s) would be made" in dry.stdout
    assert not await es.indices.exists_index_template(name=names.prefix)

    first = shipper("setup", "--config", str(path))
    assert first.returncode == 0, first.stderr
    assert "5 change(s) made" in first.stdout
    assert "no ILM: the retention sweeper enforces retention" in first.stdout
    assert "no `wildcard` mapping type: mapped as `keyword`" in first.stdout
    template = await es.indices.get_index_template(name=names.prefix)
    assert template["index_templates"][0]["index_template"]["index_patterns"] == [
        f"{names.prefix}-*-*"
    ]

    second = shipper("setup", "--config", str(path))
    assert second.returncode == 0, second.stderr
    assert "nothing changed: everything was already there" in second.stdout
    assert "created" not in second.stdout and "updated" not in second.stdout
    assert "2 partitions, retention.ms=3600000" in second.stdout

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([fresh_topic])
        assert len(described["partitions"]) == 2
    finally:
        await admin.close()

    config["index"]["number_of_replicas"] = 1
    changed = write_config(tmp_path, config)
    third = shipper("setup", "--config", str(changed), "--skip-kafka")
    assert third.returncode == 0, third.stderr
    # replicas live in the settings component and in the dead-letter template: both updated
    assert "2 change(s) made" in third.stdout
    updated = [row for row in third.stdout.splitlines() if " updated " in row]
    assert len(updated) == 2
    assert any(f"{names.prefix}@settings" in row for row in updated)
    assert any(f"{names.prefix}-deadletter" in row for row in updated)


def test_setup_against_an_unreachable_cluster_is_one_clear_error(tmp_path: Path) -> None:
    result = shipper("setup", "--es", "http://127.0.0.1:1", "--skip-kafka")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: Elasticsearch unreachable")


async def test_retention_deletes_only_expired_daily_indices_of_the_pattern(
    tmp_path: Path, elasticsearch_url: str, es: AsyncElasticsearch, names: Names
) -> None:
    today = datetime.now(UTC).date()

    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).strftime("%Y.%m.%d")

    p = names.prefix
    keep = [f"{p}-a-{day(0)}", f"{p}-a-{day(-1)}", f"{p}-a-{day(30)}", f"{p}-deadletter-{day(30)}"]
    expire = [f"{p}-a-{day(31)}", f"{p}-b-c-{day(400)}", f"{p}-deadletter-{day(31)}"]
    foreign = [f"{p}-a-{day(400)}-restored", f"{p}-notes"]
    for index in keep + expire + foreign:
        await es.indices.create(index=index, settings={"number_of_replicas": 0})
    path = write_config(tmp_path, names.config("127.0.0.1:9092", "unused", elasticsearch_url))

    dry = shipper("retention", "--config", str(path), "--days", "30", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 3 index(es); kept 4 within retention" in dry.stdout
    for index in expire:
        assert index in dry.stdout
    assert await es.indices.exists(index=",".join(expire))

    real = shipper("retention", "--config", str(path), "--days", "30")
    assert real.returncode == 0, real.stderr
    assert "deleted 3 index(es)" in real.stdout
    for index in expire:
        assert not await es.indices.exists(index=index)
    for index in keep + foreign:
        assert await es.indices.exists(index=index)


async def test_search_and_trace_show_the_events_in_order(
    tmp_path: Path, elasticsearch_url: str, es: AsyncElasticsearch, names: Names
) -> None:
    path = write_config(tmp_path, names.config("127.0.0.1:9092", "unused", elasticsearch_url))
    assert shipper("setup", "--config", str(path), "--skip-kafka").returncode == 0
    now = datetime.now(UTC)
    events = [
        ("web", -3, "info", "GET /checkout started", "t-1"),
        ("payments", -2, "error", "card declined for order 42", "t-1"),
        ("web", -1, "warning", "GET /checkout answered 402", "t-1"),
        ("web", -1, "info", "unrelated request", "t-2"),
        ("web", -120, "error", "an old error", "t-3"),
    ]
    for n, (service, minutes, level, message, trace) in enumerate(events):
        when = now + timedelta(minutes=minutes)
        await es.index(
            index=f"{names.prefix}-{service}-{when:%Y.%m.%d}",
            id=f"e{n}",
            document={
                "@timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "service": {"name": service},
                "log": {"level": level},
                "message": message,
                "trace": {"id": trace},
            },
        )
    await es.indices.refresh(index=f"{names.prefix}-*")

    found = shipper("search", "declined OR answered", "--config", str(path))
    assert found.returncode == 0, found.stderr
    assert found.stdout.index("answered 402") < found.stdout.index("card declined")  # newest first
    assert "2 of 2" in found.stdout

    errors = shipper("search", "log.level:error", "--since", "1d", "--json", "--config", str(path))
    lines = [orjson.loads(text) for text in errors.stdout.splitlines()]
    assert [d["message"] for d in lines] == ["card declined for order 42", "an old error"]
    recent = shipper("search", "log.level:error", "--since", "15m", "--json", "--config", str(path))
    assert len(recent.stdout.splitlines()) == 1

    web = shipper("search", "*", "--service", "web", "--json", "--config", str(path))
    assert {orjson.loads(t)["service"]["name"] for t in web.stdout.splitlines()} == {"web"}

    traced = shipper("trace", "t-1", "--json", "--config", str(path))
    assert traced.returncode == 0, traced.stderr
    assert [orjson.loads(t)["message"] for t in traced.stdout.splitlines()] == [
        "GET /checkout started",
        "card declined for order 42",
        "GET /checkout answered 402",
    ]
    table = shipper("trace", "t-1", "--config", str(path))
    assert "payments" in table.stdout and "web" in table.stdout and "3 of 3" in table.stdout
    assert await count(es, f"{names.prefix}-*") == 5
