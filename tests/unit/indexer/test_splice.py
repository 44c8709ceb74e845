"""Records carrying the routing headers are written as their own bytes plus ``event.ingested``;
records without them are parsed; both give the same document, and nothing is lost either way."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pipelines.route import RouteConfig, Router
from shipper.indexer.deadletter import DeadLetters
from shipper.indexer.documents import Decoder, Document
from shipper.sinks.headers import route_headers
from tests.unit.indexer.support import HEADERS, event, record

NOW = 1_795_427_000.123  # 2026-11-23T09:43:20.123Z
INGESTED = "2026-11-23T09:43:20.123Z"
DEADLETTERS = DeadLetters(
    Router(RouteConfig(index_pattern="app-logs-deadletter-{date}")), lambda: NOW
)
DECODER = Decoder(Router(RouteConfig()), DEADLETTERS, lambda: NOW)


def routed(value: bytes, event_id: str = "e-1") -> list[tuple[str, bytes]]:
    """What the shipper sends with *value*: event.id, schema, logferry-day, logferry-service."""
    headers = route_headers(orjson.loads(value))
    return [("event.id", event_id.encode()), ("logferry-schema", b"1"), *headers]


def spliced(value: bytes) -> bytes:
    return value[:-1] + b',"event.ingested":"' + INGESTED.encode() + b'"}'


def same_document(a: Document, b: Document) -> None:
    """Same index, id, record and content; `event.ingested` may be dotted in one of them."""
    assert (a.index, a.id, a.partition, a.offset, a.deadletter_reason) == (
        b.index,
        b.id,
        b.partition,
        b.offset,
        b.deadletter_reason,
    )
    assert a.action == b.action
    assert expand(orjson.loads(a.source)) == expand(orjson.loads(b.source))


def expand(source: dict[str, Any]) -> dict[str, Any]:
    """A top-level dotted `event.ingested` moved into `event`, as Elasticsearch reads it."""
    if "event.ingested" in source:
        source["event"]["ingested"] = source.pop("event.ingested")
    return source


# -- the contract ----------------------------------------------------------------------------


def test_route_headers_carry_the_utc_day_and_the_service_name_as_they_are() -> None:
    fields: dict[str, Any] = {
        "@timestamp": "2026-11-24T01:30:00+02:00",
        "service": {"name": "My Svc"},
    }
    value = event(**fields)
    assert route_headers(orjson.loads(value)) == [
        ("logferry-day", b"2026-11-23"),
        ("logferry-service", b"My Svc"),
    ]


def test_route_headers_fall_back_to_event_created_and_omit_a_missing_service() -> None:
    event = {"event": {"id": "x", "created": "2026-11-20T23:59:59.999Z"}, "service": {"name": 5}}
    assert route_headers(event) == [("logferry-day", b"2026-11-20")]


def test_route_headers_are_none_without_a_usable_time_or_a_string_event_id() -> None:
    at = {"@timestamp": "2026-11-23T08:00:00Z", "service": {"name": "a"}}
    assert route_headers({**at, "@timestamp": "nonsense", "event": {"id": "x"}}) == []
    for meta in ({}, {"id": ""}, {"id": 5}, "x"):
        assert route_headers({**at, "event": meta}) == []
    assert route_headers({**at, "event": {"id": "x"}}) != []


# -- spliced ---------------------------------------------------------------------------------


def test_a_record_with_routing_headers_is_its_own_bytes_plus_event_ingested() -> None:
    value = event("abc", **{"@timestamp": "2026-10-14T23:59:59.999Z"})
    doc = DECODER.decode(record(value, offset=7, headers=routed(value, "abc")))
    assert doc.source == spliced(value)  # byte for byte, apart from the one key
    assert doc.index == "app-logs-orders-2026.10.14"
    assert doc.id == "abc"
    assert (doc.partition, doc.offset, doc.deadletter_reason) == (0, 7, None)
    assert doc.action == orjson.dumps(
        {"create": {"_index": "app-logs-orders-2026.10.14", "_id": "abc"}}
    )
    assert orjson.loads(doc.source) == {**orjson.loads(value), "event.ingested": INGESTED}


def test_the_spliced_document_is_the_parsed_one() -> None:
    for fields in (
        {},
        {"@timestamp": "2026-11-24T01:30:00+02:00"},  # another zone: the UTC day
        {"service": {"name": "Billing/API v2"}},  # sanitised by the indexer's router
        {"service": {"name": ""}},  # the default service
        {"service": {"name": ["not", "a", "string"]}},
        {"service": "flat"},
        {"@timestamp": None, "event": {"id": "e-1", "created": "2026-11-01T00:00:00Z"}},
        {"message": 'quotes " and \\ and unicode é 🚀', "labels": {"x": 1.5}},
    ):
        value = event(**fields)
        parsed = DECODER.parsed
        fast = DECODER.decode(record(value, headers=routed(value)))
        assert DECODER.parsed == parsed
        slow = DECODER.decode(record(value, headers=HEADERS))  # an older shipper's record
        assert DECODER.parsed == parsed + 1
        assert fast.source == spliced(value), fields
        assert slow.source != fast.source
        same_document(fast, slow)


def test_ids_that_need_escaping_make_a_valid_action_line() -> None:
    value = orjson.dumps(
        {"@timestamp": "2026-11-23T08:00:00Z", "event": {"id": 'a"b\\c'}, "message": "x"}
    )
    doc = DECODER.decode(record(value, headers=routed(value, 'a"b\\c')))
    assert orjson.loads(doc.action) == {
        "create": {"_index": "app-logs-unknown-2026.11.23", "_id": 'a"b\\c'}
    }
    assert doc.source == spliced(value)


def test_event_ingested_follows_the_clock() -> None:
    clock = [NOW]
    decoder = Decoder(Router(RouteConfig()), DEADLETTERS, lambda: clock[0])
    value = event()
    first = decoder.decode(record(value, headers=routed(value)))
    clock[0] += 1.5
    second = decoder.decode(record(value, headers=routed(value)))
    assert orjson.loads(first.source)["event.ingested"] == INGESTED
    assert orjson.loads(second.source)["event.ingested"] == "2026-11-23T09:43:21.623Z"


# -- parsed instead --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("why", "value", "headers"),
    [
        ("no logferry-day: an older shipper", event(), HEADERS),
        (
            "no event.id header",
            event(),
            [("logferry-schema", b"1"), ("logferry-day", b"2026-11-23")],
        ),
        (
            "empty event.id header",
            event(),
            [("event.id", b""), ("logferry-schema", b"1"), ("logferry-day", b"2026-11-23")],
        ),
        ("a day that is no date", event(), [*HEADERS, ("logferry-day", b"2026-13-45")]),
        ("a day that is no ISO date", event(), [*HEADERS, ("logferry-day", b"2026-W47-1")]),
        (
            "a day that is not ASCII",
            event(),
            [*HEADERS, ("logferry-day", "\uff12\uff10\uff12\uff16-11-23".encode())],
        ),
        (
            "a service that is not UTF-8",
            event(),
            [*HEADERS, ("logferry-day", b"2026-11-23"), ("logferry-service", b"\xff")],
        ),
        (
            "more than one line",
            orjson.dumps(orjson.loads(event()), option=orjson.OPT_INDENT_2),
            None,
        ),
        ("an event.ingested already", event(event={"id": "e-1", "ingested": "x"}), None),
        ("a dotted event.ingested already", event(**{"event.ingested": "x"}), None),
        ("whitespace after the object", event() + b" ", None),
    ],
)
def test_records_the_splice_cannot_take_are_parsed(
    why: str, value: bytes, headers: list[tuple[str, bytes]] | None
) -> None:
    if headers is None:
        headers = routed(value.strip())
    doc = DECODER.decode(record(value, headers=headers))
    assert doc.deadletter_reason is None, why
    assert doc.source == orjson.dumps(
        {**orjson.loads(value), "event": {"id": "e-1", "ingested": INGESTED}}
    ), why
    assert doc.index == "app-logs-orders-2026.11.23"


def test_a_malformed_day_header_is_remembered_and_still_parsed() -> None:
    headers = [*HEADERS, ("logferry-day", b"yesterday")]
    for _ in range(3):
        assert DECODER.decode(record(event(), headers=headers)).source.startswith(b'{"@timestamp"')


def test_the_route_cache_stays_bounded_and_right() -> None:
    decoder = Decoder(Router(RouteConfig()), DEADLETTERS, lambda: NOW)
    for n in range(5000):
        value = event(service={"name": f"svc-{n}"})
        assert decoder.decode(record(value, headers=routed(value))).index == (
            f"app-logs-svc-{n}-2026.11.23"
        )


# -- not events ------------------------------------------------------------------------------

DAY = [("logferry-day", b"2026-11-23"), ("logferry-service", b"orders")]


@pytest.mark.parametrize(
    ("value", "reason", "error_type"),
    [
        (None, "not_json", "empty_record"),
        (b"[1, 2]", "not_json", "not_an_object"),
        (b'{"message": "cut in the mid', "not_json", "json_parse_exception"),
        (b"not json {", "not_json", "json_parse_exception"),
    ],
)
def test_values_that_do_not_look_like_an_object_are_dead_letters_at_once(
    value: bytes | None, reason: str, error_type: str
) -> None:
    doc = DECODER.decode(record(value, headers=[*HEADERS, *DAY]))
    assert doc.deadletter_reason == reason
    assert orjson.loads(doc.source)["error"]["type"] == error_type
    assert doc.index == "app-logs-deadletter-2026.11.23"


@pytest.mark.parametrize(
    ("value", "reason", "error_type"),
    [
        (b'{"message": "x", "a": }', "not_json", "json_parse_exception"),
        (b'{"message": "\xff"}', "not_json", "json_parse_exception"),
        (b'{"a": 1} {"b": 2}', "not_json", "json_parse_exception"),
        (b"{}", "schema", "logferry_schema_mismatch"),
        (b'{"message": "no id", "event": {}}', "schema", "logferry_schema_mismatch"),
    ],
)
def test_an_object_lookalike_elasticsearch_refuses_is_the_dead_letter_parsing_would_give(
    value: bytes, reason: str, error_type: str
) -> None:
    doc = DECODER.decode(record(value, offset=4, headers=[*HEADERS, *DAY]))
    assert doc.deadletter_reason is None  # spliced: Elasticsearch will say it is not JSON
    assert doc.source == spliced(value)
    letter = DEADLETTERS.rejected(doc, "document_parsing_exception", "failed to parse")
    parsed = DECODER.decode(record(value, offset=4, headers=HEADERS))  # what parsing gives
    assert (letter.index, letter.id, letter.deadletter_reason) == (
        parsed.index,
        parsed.id,
        parsed.deadletter_reason,
    )
    assert letter.source == parsed.source
    assert letter.deadletter_reason == reason
    source = orjson.loads(letter.source)
    assert source["error"]["type"] == error_type
    assert source["event"]["original"] == value.decode("utf-8", "backslashreplace")


def test_a_refused_spliced_event_is_a_rejected_dead_letter_with_its_service() -> None:
    value = event("e-9", **{"event": {"id": "e-9", "duration": "abc"}})
    doc = DECODER.decode(record(value, offset=5, headers=routed(value, "e-9")))
    letter = DEADLETTERS.rejected(doc, "document_parsing_exception", "failed to parse [x]")
    assert (letter.index, letter.id, letter.deadletter_reason) == (
        "app-logs-deadletter-2026.11.23",
        "e-9",
        "rejected",
    )
    source = orjson.loads(letter.source)
    assert source["event"]["original"] == value.decode()  # the record, not the spliced source
    assert source["service"] == {"name": "orders"}
    assert source["logferry"]["deadletter"]["index"] == "app-logs-orders-2026.11.23"
