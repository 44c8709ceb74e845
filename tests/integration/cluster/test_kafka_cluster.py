"""Brokers fail under the shipper's load on the three-broker cluster: a kill -9 of the partitions'
leader, and a rolling restart of every broker. Nothing is lost: every line is in the topic (at
least once: acks=all, replication 3, min.insync.replicas=2) and exactly once in Elasticsearch (a
real indexer writes each event.id once).

Each test leaves all three brokers running with the topic's ISR full, whatever happens (the
cluster is shared with the Elasticsearch and indexer tests of this directory).
"""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from elasticsearch import AsyncElasticsearch

from tests.integration.cluster.conftest import Cluster
from tests.integration.indexer.support import (
    IndexerProcess,
    Names,
    count,
    delete_prefix,
    documents,
    seq_of,
    wait_for_count,
)
from tests.integration.support import LogWriter, ShipperProcess, read_topic, wait_for

LINES = 50_000
"""The issue's 50,000 lines, written at WRITE_RATE while the leader is killed."""

WRITE_RATE = 5000
"""Lines/s: 10 s of writing, so the kill lands mid-stream and the shipper keeps up on two cores."""

ROLLING_RATE = 300
"""Lines/s written through the whole rolling restart (its length sets how many lines)."""

FAST_INPUT = {"scan_interval_s": 0.2, "poll_interval_s": 0.05, "partial_timeout_s": 1.0}

BROKER_IDS = (1, 2, 3)


@pytest.fixture
async def topic(cluster: Cluster) -> AsyncIterator[str]:
    """A topic made by `shipper setup` on the cluster (3 partitions, replication 3,
    min.insync.replicas=2), deleted afterwards; the brokers are all up again before that."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    # `setup` sizes the topic from the brokers it finds: all three (a no-op when they are up).
    cluster.stack("up", "kafka")
    result = subprocess.run(
        [sys.executable, "-m", "shipper", "setup", "--skip-elasticsearch",
         "--kafka", f"kafka://{cluster.kafka}/{name}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        yield name
    finally:
        # Whatever the test did to the brokers: all three up, the topic fully replicated.
        cluster.stack("up", "kafka")
        await wait_for_full_isr(cluster, name)
        admin = await _admin(cluster)
        try:
            await admin.delete_topics([name])
        finally:
            await admin.close()


@pytest.fixture
async def es(cluster: Cluster) -> AsyncIterator[AsyncElasticsearch]:
    """A client of every Elasticsearch node (another test may have one of them down)."""
    client = AsyncElasticsearch(
        cluster.elasticsearch, request_timeout=30, retry_on_timeout=True, max_retries=5
    )
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def names(es: AsyncElasticsearch) -> AsyncIterator[Names]:
    result = Names(f"lf-{uuid.uuid4().hex[:10]}")
    yield result
    await delete_prefix(es, result.prefix)


@pytest.fixture
def processes() -> Iterator[list[ShipperProcess | IndexerProcess]]:
    """Shipper and indexer processes of the test, stopped afterwards."""
    started: list[ShipperProcess | IndexerProcess] = []
    yield started
    for process in started:
        if process.running:
            process.stop()


async def _admin(cluster: Cluster) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.kafka, request_timeout_ms=10_000)
    await admin.start()
    return admin


async def partitions(cluster: Cluster, topic: str) -> list[dict[str, Any]]:
    """The topic's partitions as the cluster describes them (leader, replicas, isr).

    The admin client may pick a broker that is down (its metadata still lists it): try again.
    """
    deadline = time.monotonic() + 30
    while True:
        admin = await _admin(cluster)
        try:
            (described,) = await admin.describe_topics([topic])
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    assert described["error_code"] == 0, described
    found: list[dict[str, Any]] = described["partitions"]
    return found


async def wait_for_full_isr(cluster: Cluster, topic: str, timeout_s: float = 90.0) -> float:
    """Wait until every partition of *topic* has all its replicas in sync; the seconds it took."""
    started = time.monotonic()
    while True:
        described = await partitions(cluster, topic)
        if all(set(p["isr"]) == set(p["replicas"]) for p in described):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout_s, f"ISR not full: {described}"
        await asyncio.sleep(0.5)


async def min_insync_replicas(cluster: Cluster, topic: str) -> str:
    admin = await _admin(cluster)
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
    return str(configs["min.insync.replicas"])


def start_pipeline(
    cluster: Cluster,
    topic: str,
    names: Names,
    tmp_path: Path,
    processes: list[ShipperProcess | IndexerProcess],
) -> tuple[LogWriter, ShipperProcess, IndexerProcess]:
    """A log file, a shipper tailing it into *topic* and an indexer writing the topic into the
    cluster's Elasticsearch (replicas 1: it survives a data node going down)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    writer = LogWriter(logs / "app.log", rate_per_s=WRITE_RATE)
    shipper = ShipperProcess(
        tmp_path / "sidecar",  # not "shipper": `python -m shipper` runs in tmp_path
        {
            "input": {"paths": [str(writer.path)], **FAST_INPUT},
            "output": {"url": f"kafka://{cluster.kafka}/{topic}"},
            "service": {"name": "orders"},
        },
    )
    shipper.workdir.mkdir()
    indexer = IndexerProcess(
        tmp_path,
        names.config(
            cluster.kafka,
            topic,
            ",".join(cluster.elasticsearch),
            index={"number_of_replicas": 1},
            # A bulk that times out is sent again: on a starved machine that only adds load.
            elasticsearch={"request_timeout_s": 60},
        ),
    )
    processes.extend([shipper, indexer])
    indexer.start()
    shipper.start()
    return writer, shipper, indexer


def write_in_background(writer: LogWriter, total: int) -> threading.Thread:
    """Append exactly *total* lines at the writer's rate, from a thread."""

    def loop() -> None:
        burst = max(1, int(writer.rate / 50))
        while writer.next < total:
            writer.write(min(burst, total - writer.next))
            time.sleep(burst / writer.rate)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def checkpointed(shipper: ShipperProcess) -> int:
    """The offset the shipper's checkpoint holds for its one file (0 before the first save)."""
    if not shipper.checkpoint_path.exists():
        return 0
    (entry,) = shipper.checkpoint()["files"].values()
    return int(entry["offset"])


def published_since(shipper: ShipperProcess, before: float) -> float:
    return shipper.metric("logferry_shipper_events_published_total") - before


def slow_publishes(shipper: ShipperProcess) -> float:
    """Batches whose acknowledgement took over 2.5 s (a leader election stalls them)."""
    name = "logferry_shipper_publish_latency_seconds"
    return shipper.metric(f"{name}_count") - shipper.metric(f"{name}_bucket", le="2.5")


async def assert_nothing_lost(
    cluster: Cluster,
    topic: str,
    es: AsyncElasticsearch,
    names: Names,
    writer: LogWriter,
    shipper: ShipperProcess,
    indexer: IndexerProcess,
    total: int,
) -> int:
    """Every line in the topic, exactly once in Elasticsearch, the checkpoint at the file's end;
    the number of duplicates the topic holds."""
    wait_for(lambda: checkpointed(shipper) == writer.path.stat().st_size, timeout_s=60)
    assert shipper.metric("logferry_shipper_events_published_total") >= total

    records = await read_topic(cluster.kafka, topic, expect=total, timeout_s=60, idle_s=1)
    seqs = collections.Counter(int(r.value["app"]["seq"]) for r in records)
    missing = set(range(total)) - seqs.keys()
    assert not missing, f"{len(missing)} lines missing from the topic, e.g. {sorted(missing)[:5]}"
    assert seqs.keys() == set(range(total))

    indexed = await wait_for_count(es, names.logs, total, timeout_s=120)
    assert indexed == total, indexer.tail()
    assert sorted(seq_of(d) for d in await documents(es, names.logs, ("app.seq",))) == list(
        range(total)
    )
    assert await count(es, names.deadletters) == 0
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    assert indexer.metric("logferry_indexer_documents_indexed_total") == total
    assert indexer.metric("logferry_indexer_dead_letters_total") == 0
    return len(records) - total


async def test_kill9_of_the_partition_leader_loses_no_line(
    cluster: Cluster,
    topic: str,
    es: AsyncElasticsearch,
    names: Names,
    tmp_path: Path,
    processes: list[ShipperProcess | IndexerProcess],
) -> None:
    started = time.monotonic()
    before = await partitions(cluster, topic)
    assert all(len(p["replicas"]) == 3 for p in before), before
    assert await min_insync_replicas(cluster, topic) == "2"
    leaders = collections.Counter(p["leader"] for p in before)
    leader_of_0 = next(p["leader"] for p in before if p["partition"] == 0)
    # The broker leading most partitions; on a tie (one each, as usual), partition 0's.
    victim = max(leaders, key=lambda broker: (leaders[broker], broker == leader_of_0))
    led = sorted(p["partition"] for p in before if p["leader"] == victim)

    writer, shipper, indexer = start_pipeline(cluster, topic, names, tmp_path, processes)
    feeding = write_in_background(writer, LINES)
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") >= LINES // 5)
    published_at_kill = shipper.metric("logferry_shipper_events_published_total")
    cluster.kill9(f"kafka-{victim}")
    killed_at = time.monotonic()

    async def elected() -> bool:
        """The killed broker's partitions have a new leader; it is out of every ISR."""
        now = await partitions(cluster, topic)
        moved = all(p["leader"] not in (victim, -1) for p in now if p["partition"] in led)
        return moved and all(victim not in p["isr"] for p in now)

    while not await elected():
        assert time.monotonic() - killed_at < 60, await partitions(cluster, topic)
        await asyncio.sleep(0.5)
    election_s = time.monotonic() - killed_at
    # The shipper continues on two brokers of three (min.insync.replicas=2).
    published = shipper.metric("logferry_shipper_events_published_total")
    wait_for(lambda: published_since(shipper, published) > 2000, timeout_s=30)
    # The killed broker comes back while the rest is published and checked (it takes ~20 s).
    restart = asyncio.create_task(asyncio.to_thread(cluster.stack, "up", "kafka"))

    feeding.join(timeout=60)
    assert writer.next == LINES
    wait_for(
        lambda: shipper.metric("logferry_shipper_events_published_total") >= LINES, timeout_s=90
    )
    assert published_at_kill < LINES, "the kill came after the last line: it tested nothing"
    failed = shipper.metric("logferry_shipper_events_failed_total")
    slow = slow_publishes(shipper)
    assert failed + slow > 0, "the outage shows in neither failed nor slow publishes"

    checking = time.monotonic()
    duplicates = await assert_nothing_lost(
        cluster, topic, es, names, writer, shipper, indexer, LINES
    )
    checked_s = time.monotonic() - checking
    assert shipper.metric("logferry_shipper_output_up", output=shipper.config["output"]["url"]) == 1
    await restart
    rejoined_s = await wait_for_full_isr(cluster, topic)
    print(
        f"\nkilled kafka-{victim} (leader of {led}) after {published_at_kill:.0f} lines; "
        f"leaders elected in {election_s:.1f}s; {failed:.0f} events in failed publishes, "
        f"{slow:.0f} slow batches; {duplicates} duplicates in the topic, checked in "
        f"{checked_s:.0f}s; broker in sync {rejoined_s:.1f}s after `stack up` ended; "
        f"{time.monotonic() - started:.0f}s in all"
    )


async def test_rolling_restart_of_every_broker_under_load_loses_no_line(
    cluster: Cluster,
    topic: str,
    es: AsyncElasticsearch,
    names: Names,
    tmp_path: Path,
    processes: list[ShipperProcess | IndexerProcess],
) -> None:
    started = time.monotonic()
    await wait_for_full_isr(cluster, topic)
    writer, shipper, indexer = start_pipeline(cluster, topic, names, tmp_path, processes)
    writer.rate = ROLLING_RATE
    writer.start()
    try:
        wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") >= 1000)
        timings = []
        for broker in BROKER_IDS:
            node = f"kafka-{broker}"
            step = time.monotonic()
            cluster.stack("down", node)
            stopped = await partitions(cluster, topic)
            assert all(p["leader"] != broker and broker not in p["isr"] for p in stopped), stopped
            # Two brokers of three hold min.insync.replicas=2: the shipper keeps publishing.
            published = shipper.metric("logferry_shipper_events_published_total")
            wait_for(lambda since=published: published_since(shipper, since) > 500, timeout_s=30)
            down_s = time.monotonic() - step
            cluster.stack("up", "kafka")
            up_s = time.monotonic() - step - down_s
            in_sync_s = await wait_for_full_isr(cluster, topic)
            timings.append(f"{node}: down {down_s:.0f}s, up {up_s:.0f}s, in sync {in_sync_s:.0f}s")
    finally:
        total = writer.stop()
    checking = time.monotonic()
    duplicates = await assert_nothing_lost(
        cluster, topic, es, names, writer, shipper, indexer, total
    )
    checked_s = time.monotonic() - checking
    print(
        f"\nrolling restart ({', '.join(timings)}) under {ROLLING_RATE} lines/s: {total} lines, "
        f"{shipper.metric('logferry_shipper_events_failed_total'):.0f} events in failed "
        f"publishes, {duplicates} duplicates in the topic, checked in {checked_s:.0f}s; "
        f"{time.monotonic() - started:.0f}s in all"
    )
