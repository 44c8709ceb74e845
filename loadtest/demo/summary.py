"""The demo's closing numbers: lines written, events in Kafka, documents in Elasticsearch."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from shipper.indexer.config import ElasticsearchConfig
from shipper.indexer.es import build_client, call

__all__ = ["PipelineCounts", "count_lines", "wait_for_equal_counts"]


@dataclass(frozen=True, slots=True)
class PipelineCounts:
    """The same lines, counted at each stage."""

    lines_written: int
    events_in_kafka: int
    documents_in_elasticsearch: int

    @property
    def equal(self) -> bool:
        """Nothing lost, nothing doubled, end to end."""
        return self.lines_written == self.events_in_kafka == self.documents_in_elasticsearch


def count_lines(log_dir: Path) -> int:
    """Complete lines in the app's log and its rotated files."""
    total = 0
    for path in log_dir.glob("app.log*"):
        with path.open("rb") as handle:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return total


async def _events_in_kafka(bootstrap: str, topic: str) -> int:
    # Subscribing (without a group) is what makes the client fetch the topic's partitions.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return 0
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await consumer.stop()


async def _documents(elasticsearch: str, log_dir: Path) -> int:
    client = build_client(ElasticsearchConfig(url=elasticsearch))
    try:
        await call("refresh", client.indices.refresh(index="app-logs-*"))
        # Only this run's lines: the log path is unique per demo run.
        query = {"prefix": {"log.file.path": str(log_dir)}}
        answer = await call("count", client.count(index="app-logs-*", query=query))
        return int(answer["count"])
    finally:
        await client.close()


async def wait_for_equal_counts(
    *, log_dir: Path, kafka: str, topic: str, elasticsearch: str, timeout_s: float
) -> PipelineCounts:
    """Count at every stage until the counts agree (or *timeout_s* passes); the last counts.

    *log_dir* must be absolute: the shipper records absolute paths in ``log.file.path``."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = PipelineCounts(
            count_lines(log_dir),
            await _events_in_kafka(kafka, topic),
            await _documents(elasticsearch, log_dir),
        )
        if counts.equal or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(2.0)
