"""Builders shared by the indexer's unit tests."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import ConsumerRecord

from shipper.indexer.documents import Document

HEADERS = [("event.id", b"e-1"), ("logferry-schema", b"1")]


def record(
    value: bytes | None = b"{}",
    *,
    offset: int = 0,
    partition: int = 0,
    headers: list[tuple[str, bytes]] | None = None,
    timestamp_ms: int = 1_795_420_800_000,  # 2026-11-23T08:00:00Z
    key: bytes | None = b"k",
) -> ConsumerRecord[bytes, bytes]:
    """A record as the indexer's consumer hands it over."""
    return consumer_record(
        "app-logs",
        partition,
        offset,
        key,
        value,
        HEADERS if headers is None else headers,
        timestamp_ms,
    )


def consumer_record(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    timestamp_ms: int,
) -> ConsumerRecord[bytes, bytes]:
    """aiokafka's record, built as its fetcher builds it."""
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=timestamp_ms,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=-1 if key is None else len(key),
        serialized_value_size=-1 if value is None else len(value),
        headers=tuple(headers),
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
