"""Consumption paused while every bulk slot is busy resumes when a slot takes the waiting batch,
not when the paused poll's timeout runs out: until then the slots empty one by one and
Elasticsearch waits for work (a bulk every ~70 ms here, a poll of up to 200 ms: the steady rate
was two thirds of what the same documents reach when bulked directly)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition

from shipper.indexer import runner
from shipper.indexer.batch import Batch
from shipper.indexer.config import IndexerConfig
from shipper.indexer.runner import Indexer
from tests.unit.indexer.support import record

TOPIC = "app-logs"
P0 = TopicPartition(TOPIC, 0)
POLL_S = 30.0  # a paused poll this long makes the old bubble unmistakable


class Consumer:
    """Hands out *waiting* records a poll at a time; while paused, a poll waits its whole timeout
    and returns nothing, as aiokafka's does."""

    def __init__(self, waiting: int) -> None:
        self.waiting = [record(offset=n) for n in range(waiting)]
        self.is_paused = False
        self.resumed = asyncio.Event()
        self.paused_poll_waits_ms: list[int] = []

    def assignment(self) -> set[TopicPartition]:
        return {P0}

    def pause(self, *partitions: TopicPartition) -> None:
        self.is_paused = True

    def paused(self) -> set[TopicPartition]:
        return {P0} if self.is_paused else set()

    def resume(self, *partitions: TopicPartition) -> None:
        self.is_paused = False
        self.resumed.set()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list]:  # type: ignore[type-arg]
        if self.is_paused:
            self.paused_poll_waits_ms.append(timeout_ms)
        if self.is_paused or not self.waiting:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        taken, self.waiting = self.waiting[:max_records], self.waiting[max_records:]
        return {P0: taken}


@dataclass
class Held:
    """A consuming indexer of one bulk slot and one-document batches: a bulk returns when the
    test sets ``slot``; ``started`` lists the batches written so far."""

    indexer: Indexer
    consumer: Consumer
    slot: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[Batch] = field(default_factory=list)

    async def write(self, batch: Batch) -> None:
        self.started.append(batch)
        await self.slot.wait()
        self.slot.clear()

    async def paused(self) -> None:
        """Once a poll's batch went to the slot and the next one waits for it."""
        while not self.consumer.is_paused:
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def consuming(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Held]:
    indexer = Indexer(
        IndexerConfig(
            kafka={"url": f"kafka://127.0.0.1:9092/{TOPIC}"},
            bulk={"max_documents": 1, "max_in_flight": 1, "max_wait_ms": 60_000},
        )
    )
    held = Held(indexer, Consumer(waiting=3))
    monkeypatch.setattr(indexer, "_write", held.write)
    consume = asyncio.create_task(indexer._consume(held.consumer))  # type: ignore[arg-type]
    try:
        yield held
    finally:
        indexer._stopping.set()
        held.slot.set()
        consume.cancel()
        await asyncio.gather(consume, return_exceptions=True)
        await indexer._es.close()


async def test_a_freed_bulk_slot_resumes_consumption_without_waiting_out_the_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "_POLL_MAX_S", POLL_S)
    async with consuming(monkeypatch) as held:
        await held.paused()
        await asyncio.sleep(0.1)  # now inside the paused poll
        assert len(held.started) == 1 and not held.consumer.resumed.is_set()
        held.slot.set()  # the waiting batch takes the slot: nothing waits any more
        await asyncio.wait_for(held.consumer.resumed.wait(), timeout=POLL_S / 6)
        assert len(held.started) == 2
        while held.consumer.waiting:  # and the next poll takes the third
            await asyncio.sleep(0.01)


async def test_no_poll_waits_while_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Elasticsearch slower than a poll's wait (_POLL_MAX_S), a slot freeing up during a
    paused poll would sit idle until it ends: while paused, polls (which keep the member in the
    group) return at once, and the wait is for the slot."""
    async with consuming(monkeypatch) as held:
        await held.paused()
        await asyncio.sleep(3 * runner._POLL_MAX_S)  # a bulk outlasting several polls
        waits = held.consumer.paused_poll_waits_ms
        assert waits, "no poll while paused: the member would leave the group"
        assert set(waits) == {0}
        held.slot.set()
        await asyncio.wait_for(held.consumer.resumed.wait(), timeout=5)
        assert len(held.started) == 2
