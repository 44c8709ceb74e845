"""Helpers for the indexer's integration tests: publish events as the shipper does, run real
`shipper index` processes, and read back what Elasticsearch holds."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import orjson
from aiokafka import AIOKafkaProducer
from elasticsearch import AsyncElasticsearch

from pipelines.context import PipelineContext
from pipelines.pipeline import Pipeline
from pipelines.types import RawLine
from shipper.sinks import KafkaSink, KafkaSinkConfig, OutgoingEvent
from tests.integration.support import ServiceProcess

DAY_S = 86400


def line(seq: int, *, days_ago: int = 0, service: str | None = None, **extra: Any) -> bytes:
    """A python-json-logger-style line numbered *seq*, dated *days_ago* days before today (UTC)."""
    when = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(
        days=days_ago
    )
    record: dict[str, Any] = {
        "asctime": when.strftime("%Y-%m-%d %H:%M:%S,") + f"{seq % 1000:03d}",
        "levelname": "INFO",
        "name": "app.orders",
        "message": f"line {seq}",
        "seq": seq,
        "request_id": f"req-{seq % 97}",
        **extra,
    }
    if service:
        record["service"] = service
    return orjson.dumps(record) + b"\n"


def days_ago_of(seq: int) -> int:
    """The spread used by the end-to-end tests: mostly today, some yesterday, some 20 days ago
    (inside the timestamp stage's default 30-day window)."""
    bucket = seq % 20
    return 20 if bucket == 0 else 1 if bucket < 4 else 0


class EventFactory:
    """Lines -> the events the shipper would publish (its real pipeline and Kafka sink code)."""

    def __init__(self, service: str, file_id: str = "file-1") -> None:
        self.file_id = file_id
        self.pipeline = Pipeline.from_config(
            None, PipelineContext(service_name=service, host_name="test-host", agent_version="test")
        )
        self._offset = 0

    def events(self, lines: Iterable[bytes]) -> list[OutgoingEvent]:
        out = []
        for data in lines:
            raw = RawLine(
                data=data.rstrip(b"\n"),
                path="/logs/app.log",
                file_id=self.file_id,
                offset=self._offset,
                end_offset=self._offset + len(data),
            )
            self._offset += len(data)
            event = self.pipeline(raw)
            trace = event.get("trace", {}).get("id") or event.get("http", {}).get(
                "request", {}
            ).get("id")
            out.append(
                OutgoingEvent(
                    value=orjson.dumps(event),
                    key=(trace or self.file_id).encode(),
                    event_id=event["event"]["id"],
                )
            )
        return out


async def publish(
    bootstrap: str, topic: str, events: Sequence[OutgoingEvent], chunk: int = 5000
) -> None:
    """Publish like the shipper: its KafkaSink, acks=all, idempotent producer."""
    sink = KafkaSink(bootstrap, topic, KafkaSinkConfig())
    try:
        for start in range(0, len(events), chunk):
            await sink.publish(events[start : start + chunk])
    finally:
        await sink.close()


class Publisher:
    """Publishes *events* at a steady rate (the shipper's way), counting what Kafka acknowledged."""

    def __init__(
        self, bootstrap: str, topic: str, events: Sequence[OutgoingEvent], rate_per_s: float
    ) -> None:
        self.events = events
        self.rate = rate_per_s
        self.published = 0
        self._sink = KafkaSink(bootstrap, topic, KafkaSinkConfig())

    async def run(self, burst_s: float = 0.1) -> None:
        burst = max(1, int(self.rate * burst_s))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            while self.published < len(self.events):
                chunk = self.events[self.published : self.published + burst]
                await self._sink.publish(chunk)
                self.published += len(chunk)
                ahead = started + self.published / self.rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        finally:
            await self._sink.close()


async def publish_raw(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, list[tuple[str, bytes]]]]
) -> None:
    """Publish hand-made records (value, headers): what a misbehaving producer might send."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value=value, key=b"raw", headers=headers)
    finally:
        await producer.stop()


def schema_headers(event_id: str) -> list[tuple[str, bytes]]:
    return [("event.id", event_id.encode()), ("logferry-schema", b"1")]


@dataclass
class Names:
    """The per-test index pattern, dead-letter pattern and template name."""

    prefix: str

    @property
    def index_pattern(self) -> str:
        return f"{self.prefix}-{{service}}-{{date}}"

    @property
    def deadletter_pattern(self) -> str:
        return f"{self.prefix}-deadletter-{{date}}"

    @property
    def logs(self) -> str:
        """Every daily index of the test, without the dead letters."""
        return f"{self.prefix}-*,-{self.prefix}-deadletter-*"

    @property
    def deadletters(self) -> str:
        return f"{self.prefix}-deadletter-*"

    def index_of(self, service: str, days_ago: int) -> str:
        day = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y.%m.%d")
        return f"{self.prefix}-{service}-{day}"

    def config(self, bootstrap: str, topic: str, es_url: str, **overrides: Any) -> dict[str, Any]:
        """An indexer config for this test (fast intervals; retention longer than the 20-day-old lines)."""
        base: dict[str, Any] = {
            "kafka": {"url": f"kafka://{bootstrap}/{topic}", "group_id": f"{self.prefix}-group"},
            "elasticsearch": {"url": es_url, "request_timeout_s": 20},
            "index": {
                "index_pattern": self.index_pattern,
                "deadletter_pattern": self.deadletter_pattern,
                "template_name": self.prefix,
                "number_of_replicas": 0,
                "refresh_interval_s": 1,
                # Off unless a test asks: run between 23:30 and midnight UTC, it would add
                # tomorrow's indices to what tests count.
                "create_ahead_minutes": 0,
            },
            "retention": {"days": 60},
            "bulk": {"max_wait_ms": 200, "retry_backoff_max_s": 2},
            "lag_interval_s": 1,
            "commit_interval_s": 0.2,
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return base


@dataclass
class IndexerProcess(ServiceProcess):
    """A real `shipper index` process (several in one test take different names)."""

    name: str = "indexer"
    command: ClassVar[str] = "index"

    def readyz(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.metrics_url}/readyz", timeout=5) as r:
                return r.status, orjson.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read())


async def count(es: AsyncElasticsearch, index: str) -> int:
    await es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    response = await es.count(index=index, ignore_unavailable=True, allow_no_indices=True)
    return int(response["count"])


async def wait_for_count(
    es: AsyncElasticsearch, index: str, expected: int, timeout_s: float = 60.0
) -> int:
    """Poll until *index* holds *expected* documents (or more); the last count."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        seen = await count(es, index)
        if seen >= expected:
            return seen
        await asyncio.sleep(0.5)
    return seen


async def documents(
    es: AsyncElasticsearch, index: str, fields: Sequence[str] = ("app.seq", "@timestamp")
) -> list[dict[str, Any]]:
    """Every document of *index*: its _index, _id and the *fields* of its source (a scroll)."""
    await es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    result: list[dict[str, Any]] = []
    response = await es.search(
        index=index,
        body={"size": 10_000, "sort": ["_doc"], "_source": list(fields)},
        scroll="1m",
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    scroll_id = response.get("_scroll_id")
    try:
        while hits := response["hits"]["hits"]:
            result.extend({"_index": h["_index"], "_id": h["_id"], **h["_source"]} for h in hits)
            response = await es.scroll(scroll_id=scroll_id, scroll="1m")
            scroll_id = response.get("_scroll_id")
    finally:
        if scroll_id:
            await es.options(ignore_status=404).clear_scroll(scroll_id=scroll_id)
    return result


async def delete_prefix(es: AsyncElasticsearch, prefix: str) -> None:
    """Delete the indices and templates of a test (by name: wildcard deletes are refused)."""
    resolved = await es.indices.resolve_index(name=f"{prefix}-*", expand_wildcards="open,closed")
    names = [entry["name"] for entry in resolved.get("indices", [])]
    for start in range(0, len(names), 50):
        await es.indices.delete(index=",".join(names[start : start + 50]), ignore_unavailable=True)
    for name in (prefix, f"{prefix}-deadletter"):
        await es.options(ignore_status=404).indices.delete_index_template(name=name)
    for name in (f"{prefix}@settings", f"{prefix}@ecs-mappings"):
        await es.options(ignore_status=404).cluster.delete_component_template(name=name)


def seq_of(document: dict[str, Any]) -> int:
    app = document.get("app") or {}
    return int(app["seq"] if isinstance(app, dict) else document["app.seq"])
