"""Records become documents: events for their daily index, everything else a dead letter."""

from __future__ import annotations

import base64
import tracemalloc

import orjson

from pipelines.route import RouteConfig, Router
from shipper.indexer.deadletter import DeadLetters
from shipper.indexer.documents import Decoder
from tests.unit.indexer.support import event, record

NOW = 1_795_427_000.0  # 2026-11-23T09:43:20Z
DEADLETTERS = DeadLetters(
    Router(RouteConfig(index_pattern="app-logs-deadletter-{date}")), lambda: NOW
)
DECODER = Decoder(Router(RouteConfig()), DEADLETTERS, lambda: NOW)


def test_an_event_goes_to_its_own_days_index_under_its_event_id() -> None:
    doc = DECODER.decode(
        record(event("abc", **{"@timestamp": "2026-10-14T23:59:59.999Z"}), offset=7)
    )
    assert doc.index == "app-logs-orders-2026.10.14"
    assert doc.id == "abc"
    assert (doc.partition, doc.offset) == (0, 7)
    assert doc.deadletter_reason is None
    source = orjson.loads(doc.source)
    assert source["event"] == {"id": "abc", "ingested": "2026-11-23T09:43:20.000Z"}
    assert source["message"] == "hello"


def test_an_event_without_service_goes_to_the_default_services_index() -> None:
    doc = DECODER.decode(
        record(orjson.dumps({"@timestamp": "2026-11-23T00:00:00Z", "event": {"id": "x"}}))
    )
    assert doc.index == "app-logs-unknown-2026.11.23"


def test_a_record_that_is_not_json_is_a_dead_letter_keeping_the_original() -> None:
    doc = DECODER.decode(record(b"not json {", offset=3, partition=2))
    assert doc.deadletter_reason == "not_json"
    assert doc.index == "app-logs-deadletter-2026.11.23"  # the day it was published
    assert doc.id == "app-logs-2-3"
    source = orjson.loads(doc.source)
    assert source["event"]["original"] == "not json {"
    assert source["error"]["type"] == "json_parse_exception"
    assert source["logferry"]["deadletter"] == {
        "reason": "not_json",
        "index": None,
        "topic": "app-logs",
        "partition": 2,
        "offset": 3,
        "key": "k",
    }


def test_a_json_value_that_is_not_an_object_is_a_dead_letter() -> None:
    doc = DECODER.decode(record(b"[1, 2]"))
    assert doc.deadletter_reason == "not_json"
    assert "list" in orjson.loads(doc.source)["error"]["message"]


def test_an_empty_record_is_a_dead_letter() -> None:
    assert DECODER.decode(record(None)).deadletter_reason == "not_json"


def test_a_missing_or_unknown_schema_header_is_a_dead_letter() -> None:
    missing = DECODER.decode(record(event(), headers=[]))
    assert missing.deadletter_reason == "schema"
    assert "missing" in orjson.loads(missing.source)["error"]["message"]
    future = DECODER.decode(record(event(), headers=[("logferry-schema", b"2")]))
    assert future.deadletter_reason == "schema"
    assert "'2'" in orjson.loads(future.source)["error"]["message"]


def test_an_event_without_event_id_is_a_dead_letter_under_the_header_id() -> None:
    value = orjson.dumps({"message": "x", "event": {}})
    doc = DECODER.decode(record(value, headers=[("event.id", b"h-1"), ("logferry-schema", b"1")]))
    assert doc.deadletter_reason == "schema"
    assert doc.id == "h-1"


def test_bytes_that_are_not_utf8_are_kept_exactly_in_base64() -> None:
    raw = b"\xff\xfe not utf-8"
    doc = DECODER.decode(record(raw))
    deadletter = orjson.loads(doc.source)
    assert deadletter["event"]["original"].endswith("not utf-8")
    assert base64.b64decode(deadletter["logferry"]["deadletter"]["original_base64"]) == raw


def test_a_rejected_event_keeps_its_id_original_service_and_intended_index() -> None:
    doc = DECODER.decode(record(event("e-9"), offset=5))
    letter = DEADLETTERS.rejected(doc, "document_parsing_exception", "failed to parse [x]")
    assert letter.index == "app-logs-deadletter-2026.11.23"
    assert letter.id == "e-9"
    assert (letter.partition, letter.offset) == (0, 5)
    source = orjson.loads(letter.source)
    assert orjson.loads(source["event"]["original"]) == orjson.loads(event("e-9"))
    assert source["error"] == {
        "type": "document_parsing_exception",
        "message": "failed to parse [x]",
    }
    assert source["service"] == {"name": "orders"}
    assert source["logferry"]["deadletter"]["index"] == "app-logs-orders-2026.11.23"


def test_a_minimal_dead_letter_keeps_only_the_original_and_the_error() -> None:
    doc = DECODER.decode(record(b"oops"))
    minimal = DEADLETTERS.minimal(doc, "mapper_parsing_exception", "no")
    assert minimal.last_resort
    assert (minimal.index, minimal.id) == (doc.index, doc.id)
    assert set(orjson.loads(minimal.source)) == {"@timestamp", "event", "error"}


def test_issue11_item6_an_event_dated_outside_the_day_window_goes_to_its_read_times_index() -> None:
    from shipper.indexer.documents import DayWindow
    from shipper.sinks.headers import route_headers

    days = DayWindow(30, 1, lambda: NOW)
    deadletters = DeadLetters(
        Router(RouteConfig(index_pattern="app-logs-deadletter-{date}")), lambda: NOW, days
    )
    decoder = Decoder(Router(RouteConfig()), deadletters, lambda: NOW, days)
    created = "2026-11-23T09:00:00.000Z"
    for stamp in (
        "1970-01-01T00:00:00.012Z",
        "5138-01-01T00:00:00.000Z",
        "2026-10-23T00:00:00.000Z",
    ):
        value = event("e-1", **{"@timestamp": stamp, "event": {"id": "e-1", "created": created}})
        headers = [
            ("event.id", b"e-1"),
            ("logferry-schema", b"1"),
            *route_headers(orjson.loads(value)),
        ]
        doc = decoder.decode(record(value, headers=headers))
        assert doc.index == "app-logs-orders-2026.11.23"
        source = orjson.loads(doc.source)
        assert source["@timestamp"] == created
        assert source["app"] == {"@timestamp": stamp}
        assert source["tags"] == ["_timestamp_out_of_range"]
    assert decoder.out_of_range == 3
    # Inside the window: spliced as it is.
    inside = event("e-2", **{"@timestamp": "2026-10-25T00:00:00.000Z"})
    headers = [
        ("event.id", b"e-2"),
        ("logferry-schema", b"1"),
        *route_headers(orjson.loads(inside)),
    ]
    assert decoder.decode(record(inside, headers=headers)).index == "app-logs-orders-2026.10.25"
    assert decoder.out_of_range == 3
    # A dead letter is routed by its record's Kafka timestamp, which the producer sets: bounded too.
    letter = decoder.decode(record(b"not json", timestamp_ms=0))
    assert letter.index == "app-logs-deadletter-2026.11.23"


def test_documents_awaiting_their_bulk_hold_about_their_own_size() -> None:
    """Documents live until Elasticsearch answers their bulk: a parsed event's source and a dead
    letter's must hold about their length, not orjson's working buffer (4 KiB at least)."""
    records = [record(event(f"e-{n}"), offset=n) for n in range(200)]  # no routing headers: parsed
    records += [record(b"not json {", offset=n) for n in range(200, 400)]  # dead letters
    DECODER.decode(records[0])  # routes and caches are made now, not measured below
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        documents = [DECODER.decode(r) for r in records]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert {d.deadletter_reason for d in documents} == {None, "not_json"}
    source_bytes = sum(len(d.source) + len(d.action) for d in documents)
    # Besides the bytes: the Document itself, its index and id, ~300 bytes a document.
    assert held < source_bytes + 400 * len(documents), (held / len(documents), source_bytes / 400)
