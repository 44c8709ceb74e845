"""The indexer on the three-node cluster: an Elasticsearch data node killed -9 mid-stream, and a
group of indexers losing a member and gaining one. Exactly one document per event each time.

The cluster is shared with the Kafka tests (which kill brokers): these tests never touch a
broker, and every Elasticsearch node they kill is running again, the cluster green, when they end.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from elasticsearch import AsyncElasticsearch

from tests.integration.cluster.conftest import Cluster
from tests.integration.indexer.support import (
    EventFactory,
    IndexerProcess,
    Names,
    Publisher,
    count,
    delete_prefix,
    documents,
    line,
    seq_of,
    wait_for_count,
)
from tests.integration.support import wait_for

GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
"""A dead member is noticed within seconds (the default session is 45 s)."""

TopicFactory = Callable[[int], Awaitable[str]]


@pytest.fixture
async def cluster_es(cluster: Cluster) -> AsyncIterator[AsyncElasticsearch]:
    """A client of all three nodes (it carries on through one node's death)."""
    client = AsyncElasticsearch(cluster.elasticsearch, request_timeout=60)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def cluster_names(cluster_es: AsyncElasticsearch) -> AsyncIterator[Names]:
    """This test's indices, templates and group; the indices and templates deleted afterwards
    (after the test has brought back any node it killed)."""
    names = Names(f"lfc-{uuid.uuid4().hex[:10]}")
    yield names
    await delete_prefix(cluster_es, names.prefix)


@pytest.fixture
async def cluster_topic(cluster: Cluster) -> AsyncIterator[TopicFactory]:
    """Creates topics replicated on all three brokers (min.insync.replicas=2, as `shipper setup`
    makes them there); deleted afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.kafka)
    await admin.start()
    created: list[str] = []

    async def create(partitions: int) -> str:
        name = f"test-cluster-{uuid.uuid4().hex[:12]}"
        topic = NewTopic(
            name, partitions, replication_factor=3, topic_configs={"min.insync.replicas": "2"}
        )
        # A broker the Kafka tests are restarting refuses replication 3 for a moment: wait it out.
        deadline = time.monotonic() + 60
        while True:
            response = await admin.create_topics([topic])
            errors = [code for _, code, *_ in response.topic_errors if code != 0]
            if not errors:
                break
            assert time.monotonic() < deadline, f"cannot create {name}: {response}"
            await asyncio.sleep(1)
        created.append(name)
        return name

    try:
        yield create
    finally:
        await admin.close()
    if created:
        # A new client: the Kafka tests may have restarted brokers meanwhile (a stale connection
        # to the old controller would wait out its request timeout).
        admin = AIOKafkaAdminClient(bootstrap_servers=cluster.kafka)
        await admin.start()
        try:
            await admin.delete_topics(created)
        finally:
            await admin.close()


@pytest.fixture
def cluster_indexers(
    tmp_path: Path, cluster: Cluster, cluster_names: Names
) -> Iterator[Callable[..., IndexerProcess]]:
    """`shipper index` processes given every broker and every Elasticsearch node; stopped afterwards."""
    started: list[IndexerProcess] = []

    def make(topic: str, name: str = "indexer", **overrides: Any) -> IndexerProcess:
        config = cluster_names.config(
            cluster.kafka,
            topic,
            ",".join(cluster.elasticsearch),
            **{"kafka": GROUP, **overrides},
        )
        process = IndexerProcess(tmp_path, config, name=name)
        started.append(process)
        return process

    yield make
    for process in started:
        if process.running:
            process.stop()


async def offsets(
    bootstrap: str, group: str, topic: str, partitions: int
) -> tuple[dict[int, int], dict[int, int]]:
    """(committed offsets of *group*, end offsets) per partition of *topic*, as Kafka holds them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
        await admin.close()
    return (
        {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic},
        {tp.partition: end for tp, end in ends.items()},
    )


async def wait_committed_to_end(
    bootstrap: str, group: str, topic: str, partitions: int
) -> dict[int, int]:
    """Poll until the group's committed offsets are the topic's end offsets; those offsets."""
    deadline = time.monotonic() + 30
    while True:
        try:
            committed, ends = await offsets(bootstrap, group, topic, partitions)
        except KafkaError:  # a broker being restarted by the Kafka tests
            committed, ends = {}, {-1: -1}
        if committed == ends:
            return ends
        assert time.monotonic() < deadline, f"committed {committed} != end offsets {ends}"
        await asyncio.sleep(0.5)


async def until(predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """:func:`wait_for` that lets the event loop run meanwhile (the publisher is a task of it)."""
    deadline = time.monotonic() + timeout_s
    last: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            if await asyncio.to_thread(predicate):
                return
            last = None
        except AssertionError as exc:  # a series not exposed yet
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout_s}s: {last or predicate}")


async def primary_holder(es: AsyncElasticsearch, cluster: Cluster, index: str) -> str:
    """The service name (``elasticsearch-N``) of a node holding a primary of *index*: one that is
    not the elected master where there is such a node (a master's death adds an election)."""
    nodes = await es.nodes.info(metric="http", filter_path="nodes.*.name,nodes.*.http")
    by_address = {node["http"]["publish_address"]: node["name"] for node in nodes["nodes"].values()}
    service_of = {}
    for n in range(1, 4):
        service = f"elasticsearch-{n}"
        address = cluster.node(service).url.removeprefix("http://")
        service_of[by_address[address]] = service
    answer = await es.cat.shards(index=index, format="json", h="prirep,node,state")
    shards = cast(list[dict[str, str]], answer.body)
    holders = sorted({s["node"] for s in shards if s["prirep"] == "p" and s["state"] == "STARTED"})
    assert holders, f"no started primary of {index}: {shards}"
    master = cast(list[dict[str, str]], (await es.cat.master(format="json")).body)[0]["node"]
    chosen = next((node for node in holders if node != master), holders[0])
    return service_of[chosen]


async def bring_back(cluster: Cluster, es: AsyncElasticsearch) -> None:
    """Start whatever node is down and wait for the cluster to be green again."""
    await asyncio.to_thread(cluster.stack, "up", "elasticsearch")
    health = await es.cluster.health(wait_for_status="green", wait_for_nodes="3", timeout="120s")
    assert health["status"] == "green" and not health["timed_out"], health


EVENTS = 12_000
RATE_PER_S = 1000


async def test_a_data_node_killed_mid_stream_costs_retries_not_records(
    cluster: Cluster,
    cluster_es: AsyncElasticsearch,
    cluster_names: Names,
    cluster_topic: TopicFactory,
    cluster_indexers: Callable[..., IndexerProcess],
) -> None:
    es, names = cluster_es, cluster_names
    topic = await cluster_topic(3)
    events = EventFactory("ledger").events(line(i) for i in range(EVENTS))
    # Three primaries: the dead node takes some with it, the others keep writing meanwhile.
    # Replicas as `shipper setup` sizes them here (1: there are 2+ data nodes).
    indexer = cluster_indexers(
        topic,
        index={"number_of_shards": 3, "number_of_replicas": None},
        bulk={"max_documents": 300, "retry_backoff_max_s": 2},
    )
    started = time.monotonic()
    indexer.start()
    publisher = Publisher(cluster.kafka, topic, events, RATE_PER_S)
    publishing = asyncio.create_task(publisher.run())
    index = names.index_of("ledger", 0)
    killed: str | None = None
    try:
        assert await wait_for_count(es, names.logs, 2000, timeout_s=60) >= 2000, indexer.tail()
        settings = await es.indices.get_settings(index=index, name="index.number_of_replicas")
        assert settings[index]["settings"]["index"]["number_of_replicas"] == "1"
        # The node dies in a settled cluster: every replica a copy the master can promote (a
        # primary lost while its replica still recovers leaves the shard red until it returns).
        health = await es.cluster.health(index=index, wait_for_status="green", timeout="60s")
        assert not health["timed_out"], health
        killed = await primary_holder(es, cluster, index)
        cluster.kill9(killed)
        killed_at = (await count(es, names.logs), publisher.published)
        marks = {"killed": time.monotonic() - started}
        await publishing
        # The replicas of the dead node's primaries took over: every event is in, node still down.
        assert await wait_for_count(es, names.logs, EVENTS, timeout_s=60) == EVENTS, indexer.tail()
        indexed_while_down = await count(es, names.logs)
        marks["all in"] = time.monotonic() - started
        retried = indexer.metric("logferry_indexer_documents_retried_total", default=0.0)
        failures = indexer.metric("logferry_indexer_bulk_failures_total")
    finally:
        publishing.cancel()
        if killed is not None:
            await bring_back(cluster, es)
    marks["back, green"] = time.monotonic() - started

    print(
        f"\nkilled {killed} at indexed/published {killed_at}; {retried:.0f} documents retried; "
        + ", ".join(f"{mark} at {at:.0f}s" for mark, at in marks.items())
    )
    assert killed_at[0] < EVENTS, "the node died after everything was written"
    assert indexed_while_down == EVENTS
    assert retried > 0 and failures > 0, "the indexer never noticed the dead node"
    # The node is back and the cluster green: still exactly one document per event.
    docs = await documents(es, names.logs)
    assert sorted(seq_of(d) for d in docs) == list(range(EVENTS))
    assert len({d["_id"] for d in docs}) == EVENTS
    assert await count(es, names.deadletters) == 0
    assert indexer.metric("logferry_indexer_dead_letters_total") == 0
    assert indexer.metric("logferry_indexer_documents_rejected_total") == 0
    ends = await wait_committed_to_end(cluster.kafka, f"{names.prefix}-group", topic, 3)
    assert sum(ends.values()) == EVENTS
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    assert indexer.metric("logferry_indexer_elasticsearch_up") == 1
    assert indexer.stop() == 0


GROUP_RATE_PER_S = 300
PARTITIONS = 6
LAG = "logferry_indexer_consumer_lag_records"


def assigned(indexer: IndexerProcess) -> int:
    return int(indexer.metric("logferry_indexer_assigned_partitions"))


def lag_is_zero(member: IndexerProcess) -> bool:
    return member.metric(LAG) == 0


def share(members: list[IndexerProcess]) -> bool:
    """Every member holds partitions, and together they hold all of them."""
    held = [assigned(member) for member in members]
    return min(held) > 0 and sum(held) == PARTITIONS


async def test_three_indexers_lose_one_and_gain_one_index_each_event_once(
    cluster: Cluster,
    cluster_es: AsyncElasticsearch,
    cluster_names: Names,
    cluster_topic: TopicFactory,
    cluster_indexers: Callable[..., IndexerProcess],
) -> None:
    es, names = cluster_es, cluster_names
    topic = await cluster_topic(PARTITIONS)
    # Enough for 80 s; the stream is cut short once the newcomer writes.
    events = EventFactory("basket").events(line(i) for i in range(GROUP_RATE_PER_S * 80))
    first, second, third, fourth = (
        cluster_indexers(topic, name, bulk={"max_documents": 300})
        for name in ("first", "second", "third", "fourth")
    )
    for member in (first, second, third):
        member.start(wait_ready=False)
    for member in (first, second, third):
        member.wait_ready()
    publisher = Publisher(cluster.kafka, topic, events, GROUP_RATE_PER_S)
    publishing = asyncio.create_task(publisher.run())
    started = time.monotonic()
    try:
        await until(lambda: share([first, second, third]))
        await until(lambda: second.metric("logferry_indexer_documents_indexed_total") > 0)
        survivors = (first, third)
        rebalances_before = [m.metric("logferry_indexer_rebalances_total") for m in survivors]
        revoked_before = [m.metric("logferry_indexer_partitions_revoked_total") for m in survivors]
        second.kill9()
        killed_at = (await count(es, names.logs), publisher.published)
        # Its session expires; the two left share its partitions.
        await until(lambda: share([first, third]))
        await asyncio.to_thread(fourth.start)
        await until(lambda: share([first, third, fourth]))
        # Let the newcomer write, then let the stream end.
        await until(lambda: fourth.metric("logferry_indexer_documents_indexed_total") > 0)
        publisher.events = events[: publisher.published + 1]
        await publishing
    finally:
        publishing.cancel()
    total = publisher.published
    members = [first, third, fourth]

    assert 0 < killed_at[0] <= killed_at[1] < total, killed_at
    assert await wait_for_count(es, names.logs, total, timeout_s=90) == total, first.tail()
    elapsed = time.monotonic() - started
    print(f"\n{total} events; killed at indexed/published {killed_at}; {elapsed:.0f}s")
    docs = await documents(es, names.logs)
    assert sorted(seq_of(d) for d in docs) == list(range(total))
    assert len({d["_id"] for d in docs}) == total
    assert await count(es, names.deadletters) == 0
    # What an operator sees: the survivors went through (at least) the leave and the join...
    for member, rebalances, revoked in zip(
        survivors, rebalances_before, revoked_before, strict=True
    ):
        assert member.metric("logferry_indexer_rebalances_total") >= rebalances + 2
        assert member.metric("logferry_indexer_partitions_revoked_total") > revoked
    assert fourth.metric("logferry_indexer_rebalances_total") >= 1
    # ...and the three members hold the six partitions between them, with nothing left behind.
    assert sum(assigned(member) for member in members) == PARTITIONS
    assert all(assigned(member) > 0 for member in members)
    ends = await wait_committed_to_end(cluster.kafka, f"{names.prefix}-group", topic, PARTITIONS)
    assert sum(ends.values()) == total
    for member in members:
        try:
            await until(functools.partial(lag_is_zero, member), 30)
        except AssertionError:
            shown = [x for x in member.metrics().splitlines() if x.startswith(LAG)]
            raise AssertionError(f"{member.name}: {shown}; end offsets {ends}") from None
        assert member.metric("logferry_indexer_dead_letters_total") == 0
    assert await asyncio.gather(*(asyncio.to_thread(m.stop) for m in members)) == [0, 0, 0]
