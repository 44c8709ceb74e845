"""Kafka record -> the document to write: an event for its daily index, or a dead letter.

Pure. A record becomes exactly one :class:`Document` — never none — so every offset is settled
by exactly one bulk item. An event is checked (the ``logferry-schema`` header, JSON, an object,
an ``event.id``), routed with the same :class:`~pipelines.route.Router` the shipper's pipeline
uses, stamped with ``event.ingested`` and re-serialised. Anything else becomes a dead letter
(:mod:`shipper.indexer.deadletter`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from pipelines.route import Router
from shipper.sinks.kafka import SCHEMA_VERSION

__all__ = ["SCHEMA_HEADER", "Decoder", "Document", "KafkaRecord", "utc_iso"]

SCHEMA_HEADER: Final = "logferry-schema"
EVENT_ID_HEADER: Final = "event.id"


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """The parts of a consumed record the indexer uses."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    timestamp_ms: int


@dataclass(slots=True)
class Document:
    """One bulk ``create``: where, under which id, what; and the record it settles."""

    index: str
    id: str
    source: bytes
    partition: int
    offset: int
    record: KafkaRecord
    deadletter_reason: str | None = None
    """``None`` for an event; else why it is a dead letter (a metric label)."""
    last_resort: bool = False
    """A minimal dead letter, written after the full one was refused too."""

    @property
    def action(self) -> bytes:
        return orjson.dumps({"create": {"_index": self.index, "_id": self.id}})

    @property
    def size(self) -> int:
        """Bytes this document adds to a bulk body (action line, source, two newlines)."""
        return len(self.index) + len(self.id) + 35 + len(self.source)


def utc_iso(epoch_s: float) -> str:
    """``2026-11-23T08:00:00.123Z``."""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class Decoder:
    """Turns records into documents; *deadletter* builds the document for a bad record."""

    def __init__(
        self,
        router: Router,
        deadletter: Callable[[KafkaRecord, str, str, str, str | None], Document],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._router = router
        self._deadletter = deadletter
        self._now = now

    def decode(self, record: KafkaRecord) -> Document:
        headers = _headers(record.headers)
        schema = headers.get(SCHEMA_HEADER)
        if schema != SCHEMA_VERSION:
            shown = "missing" if schema is None else repr(schema.decode("utf-8", "replace"))
            return self._deadletter(
                record,
                "schema",
                "logferry_schema_mismatch",
                f"{SCHEMA_HEADER} header {shown}; this indexer reads version {SCHEMA_VERSION.decode()}",
                None,
            )
        if record.value is None:
            return self._deadletter(
                record, "not_json", "empty_record", "the record has no value", None
            )
        try:
            event = orjson.loads(record.value)
        except orjson.JSONDecodeError as exc:
            return self._deadletter(record, "not_json", "json_parse_exception", str(exc), None)
        if type(event) is not dict:
            return self._deadletter(
                record,
                "not_json",
                "not_an_object",
                f"a JSON {type(event).__name__}, not an object",
                None,
            )
        meta = event.get("event")
        event_id = meta.get("id") if type(meta) is dict else None
        if type(event_id) is not str or not event_id:
            header_id = headers.get(EVENT_ID_HEADER)
            return self._deadletter(
                record,
                "schema",
                "logferry_schema_mismatch",
                "the event has no event.id",
                header_id.decode("utf-8", "replace") if header_id else None,
            )
        index = self._router.index_for(event)
        meta["ingested"] = utc_iso(self._now())  # type: ignore[index]
        return Document(
            index=index,
            id=event_id,
            source=orjson.dumps(event),
            partition=record.partition,
            offset=record.offset,
            record=record,
        )


def _headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
    result: dict[str, Any] = {}
    for name, value in headers:
        result[name] = value
    return result
