"""Builders shared by the indexer's unit tests."""

from __future__ import annotations

from typing import Any

import orjson

from shipper.indexer.documents import Document, KafkaRecord

HEADERS = [("event.id", b"e-1"), ("logferry-schema", b"1")]


def record(
    value: bytes | None = b"{}",
    *,
    offset: int = 0,
    partition: int = 0,
    headers: list[tuple[str, bytes]] | None = None,
    timestamp_ms: int = 1_795_420_800_000,  # 2026-11-23T08:00:00Z
    key: bytes | None = b"k",
) -> KafkaRecord:
    return KafkaRecord(
        topic="app-logs",
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        headers=HEADERS if headers is None else headers,
        timestamp_ms=timestamp_ms,
    )


def event(event_id: str = "e-1", **fields: Any) -> bytes:
    body: dict[str, Any] = {
        "@timestamp": "2026-11-23T08:00:00.123Z",
        "message": "hello",
        "service": {"name": "orders"},
        "event": {"id": event_id},
        **fields,
    }
    return orjson.dumps(body)


def document(offset: int = 0, partition: int = 0, size: int = 100, index: str = "i") -> Document:
    source = b"x" * max(0, size - 35 - len(index) - len(str(offset)))
    return Document(
        index=index,
        id=str(offset),
        source=source,
        partition=partition,
        offset=offset,
        record=record(offset=offset, partition=partition),
    )
