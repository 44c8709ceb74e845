"""The consumer-lag gauge across a rebalance: a measurement a rebalance overtook is dropped, so a
partition taken away never keeps a series (and its last lag) on the member that lost it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition
from prometheus_client import generate_latest

from shipper.indexer.config import IndexerConfig
from shipper.indexer.runner import Indexer
from tests.prometheus_text import samples

TOPIC = "app-logs"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class Consumer:
    """The calls _measure_lag makes; *meanwhile* runs while Kafka 'answers' the end offsets."""

    def __init__(self, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.assigned = {P0, P1}
        self.meanwhile = meanwhile

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        await self.meanwhile()
        return dict.fromkeys(partitions, 500)

    async def committed(self, tp: TopicPartition) -> int:
        return 100  # the old owner's commit, read before the rebalance completed

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)


def _lag_series(indexer: Indexer) -> dict[str, float]:
    exposition = generate_latest(indexer.metrics.registry).decode()
    return {
        s.labels["partition"]: s.value
        for s in samples(exposition)
        if s.name == "logferry_indexer_consumer_lag_records"
    }


async def test_a_measurement_overtaken_by_a_rebalance_leaves_no_stale_series() -> None:
    indexer = Indexer(IndexerConfig(kafka={"url": f"kafka://127.0.0.1:9092/{TOPIC}"}))

    async def rebalance() -> None:  # P1 goes to another member; P0 stays
        consumer.assigned = {P0}
        await indexer._on_assigned({P0})

    consumer = Consumer(rebalance)
    indexer._consumer = consumer  # the calls it makes, no more
    await indexer._on_assigned({P0, P1})
    await indexer._measure_lag()
    assert _lag_series(indexer) == {}  # dropped, not written for partitions it no longer holds

    consumer.meanwhile = _nothing
    indexer._committed[0] = 480  # this member's own commit since
    await indexer._measure_lag()
    assert _lag_series(indexer) == {"0": 20}


async def _nothing() -> None:
    return None


async def test_a_measurement_between_revocation_and_assignment_leaves_no_stale_series() -> None:
    """aiokafka's ``assignment()`` still names the revoked partitions while the group re-forms
    (seconds, while the other members rejoin): a measurement then must not bring back the series
    of a partition this member is about to lose, nor remember the old owner's commit for it."""
    indexer = Indexer(IndexerConfig(kafka={"url": f"kafka://127.0.0.1:9092/{TOPIC}"}))
    consumer = Consumer(_nothing)
    indexer._consumer = consumer
    await indexer._on_assigned({P0, P1})
    await indexer._measure_lag()
    assert _lag_series(indexer) == {"0": 400, "1": 400}

    await indexer._on_revoked({P0, P1})  # the group re-forms; assignment() still says {P0, P1}
    await indexer._measure_lag()  # a whole measurement inside the join window
    await indexer._on_assigned({P0})  # P1 went to another member
    consumer.assigned = {P0}
    assert _lag_series(indexer) == {}
    assert 1 not in indexer._committed

    await indexer._measure_lag()
    assert _lag_series(indexer) == {"0": 400}
