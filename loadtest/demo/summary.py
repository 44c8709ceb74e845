"""The demo's closing numbers: lines written, events in Kafka, documents in Elasticsearch."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from loadtest.app.logs import ACCESS_LOGGER
from shipper.indexer.config import ElasticsearchConfig
from shipper.indexer.es import build_client, call

__all__ = [
    "LineKinds",
    "PipelineCounts",
    "count_lines",
    "line_kinds",
    "rotated_files",
    "wait_for_equal_counts",
]


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


@dataclass(frozen=True, slots=True)
class LineKinds:
    """Why the app wrote more lines than Locust made requests: who asked for each line."""

    load: int
    """Access lines of the load test's requests (their IDs start with the run's ID)."""
    health_checks: int
    """``GET /health`` from the demo itself, waiting for the app to answer."""
    fault_switches: int
    """``PUT /admin/faults``: the harness switching the app's faults at each phase."""
    other: int
    """Any other line (other requests, the app's own lines, extra lines of log-flood)."""

    def explained(self) -> str:
        """``7,689 load-test requests + 1 health check + 5 fault switches``."""
        parts = [f"{self.load:,} load-test requests"]
        for count, one, many in (
            (self.health_checks, "health check", "health checks"),
            (self.fault_switches, "fault switch", "fault switches"),
            (self.other, "other line", "other lines"),
        ):
            if count:
                parts.append(f"{count:,} {one if count == 1 else many}")
        return " + ".join(parts)


def line_kinds(log_dir: Path, run_id: str) -> LineKinds:
    """Sort the lines of the app's log (and its rotated files) by who asked for them."""
    load = health = faults = other = 0
    prefix = f"{run_id}-"
    for path in log_dir.glob("app.log*"):
        with path.open("rb") as handle:
            for raw in handle:
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    other += 1
                    continue
                if not isinstance(line, dict) or line.get("logger") != ACCESS_LOGGER:
                    other += 1
                elif str(line.get("request_id", "")).startswith(prefix):
                    load += 1
                elif line.get("path") == "/health":
                    health += 1
                elif line.get("path") == "/admin/faults":
                    faults += 1
                else:
                    other += 1
    return LineKinds(load, health, faults, other)


def rotated_files(log_dir: Path) -> int:
    """How often the app rotated its log (``app.log.1``, ``app.log.2``, … beside ``app.log``)."""
    return sum(1 for path in log_dir.glob("app.log.*") if path.suffix[1:].isdigit())


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
