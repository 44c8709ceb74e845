"""parse: every line becomes an event; the envelope only the raw line knows is always there."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines import DropEvent, PipelineContext, event_id, tags
from pipelines.parse import Parse, ParseConfig
from tests.unit.pipelines.support import FILE_ID, NOW, NOW_ISO, PATH, raw

CONTEXT = PipelineContext(now=lambda: NOW)
parse = Parse(ParseConfig(), CONTEXT)


def test_object_goes_under_the_app_namespace_with_the_envelope() -> None:
    event = parse(raw({"message": "hi", "order_id": 7}, offset=4096))
    assert event == {
        "@timestamp": NOW_ISO,
        "app": {"message": "hi", "order_id": 7},
        "log": {"file": {"path": PATH}, "offset": 4096},
        "event": {"id": event_id(FILE_ID, 4096), "created": NOW_ISO},
    }


def test_event_id_is_deterministic_and_differs_by_offset() -> None:
    assert event_id("f", 1) == event_id("f", 1)
    assert event_id("f", 1) != event_id("f", 2)
    assert event_id("f", 1) != event_id("g", 1)
    assert len(event_id("f", 1)) == 32
    int(event_id("f", 1), 16)  # hex


def test_source_tags_are_carried_first() -> None:
    event = parse(raw(b'{"a": 1', tags=(tags.PARTIAL,)))
    assert event["tags"] == [tags.PARTIAL, tags.JSON_PARSE_FAILURE]
    assert event["message"] == '{"a": 1'


def test_plain_text_is_the_message() -> None:
    event = parse(raw(b"Traceback? no, just text"))
    assert event["message"] == "Traceback? no, just text"
    assert event["tags"] == [tags.JSON_PARSE_FAILURE]
    assert "app" not in event


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"[1, 2, 3]", "[1, 2, 3]"),
        (b"42", "42"),
        (b"3.5", "3.5"),
        (b"true", "true"),
        (b"null", "null"),
        (b'"just a string"', "just a string"),
    ],
)
def test_json_that_is_not_an_object(line: bytes, message: str) -> None:
    event = parse(raw(line))
    assert event["message"] == message
    assert event["tags"] == [tags.NOT_OBJECT]


def test_invalid_utf8_inside_a_string_keeps_the_object() -> None:
    event = parse(raw(b'{"message": "caf\xe9", "n": 1}'))
    assert event["app"] == {"message": "caf\ufffd", "n": 1}
    assert event["tags"] == [tags.INVALID_UTF8]


def test_invalid_utf8_text_is_replaced() -> None:
    event = parse(raw(b"\xff\xfe oops"))
    assert event["message"] == "\ufffd\ufffd oops"
    assert event["tags"] == [tags.INVALID_UTF8, tags.JSON_PARSE_FAILURE]


def test_byte_order_mark_is_ignored() -> None:
    event = parse(raw(b'\xef\xbb\xbf{"a": 1}'))
    assert event["app"] == {"a": 1}
    assert "tags" not in event


def test_nan_is_not_json() -> None:
    event = parse(raw(b'{"latency": NaN}'))
    assert event["message"] == '{"latency": NaN}'
    assert event["tags"] == [tags.JSON_PARSE_FAILURE]


def test_duplicate_keys_keep_the_last() -> None:
    assert parse(raw(b'{"a": 1, "a": 2}'))["app"] == {"a": 2}


def test_too_deep() -> None:
    line = b"[" * 2000 + b"]" * 2000
    event = parse(raw(line))
    assert event["tags"] == [tags.TOO_DEEP]
    assert event["message"] == line.decode()


def test_empty_lines_are_shipped_by_default() -> None:
    for line in (b"", b"   ", b"\r", b"\t \r"):
        event = parse(raw(line))
        assert event["tags"] == [tags.EMPTY]
        assert event["message"] == line.decode()


def test_empty_lines_can_be_dropped_and_counted() -> None:
    dropper = Parse(ParseConfig(empty_lines="drop"), CONTEXT)
    with pytest.raises(DropEvent) as caught:
        dropper(raw(b"  "))
    assert caught.value.reason == "empty_line"
    assert dropper(raw(b'{"a": 1}'))["app"] == {"a": 1}


def test_keep_original() -> None:
    keeper = Parse(ParseConfig(keep_original=True), CONTEXT)
    assert keeper(raw(b'{"a": 1}'))["event"]["original"] == '{"a": 1}'


def test_empty_object_has_no_app() -> None:
    assert "app" not in parse(raw(b"{}"))


def test_namespace_comes_from_the_context() -> None:
    custom = Parse(None, PipelineContext(namespace="myapp", now=lambda: NOW))
    assert custom(raw(b'{"a": 1}'))["myapp"] == {"a": 1}


@given(st.binary(max_size=300))
def test_never_raises_and_always_says_something(data: bytes) -> None:
    event = parse(raw(data))
    assert event["event"]["id"]
    assert "app" in event or "message" in event or data.strip() in (b"{}", b"")
    if "message" in event:
        assert isinstance(event["message"], str)
    orjson.dumps(event)  # always serialisable


_TEXT = st.text(st.characters(codec="utf-8"), max_size=20)


@given(
    st.dictionaries(
        _TEXT,
        st.integers(-(2**63), 2**63 - 1) | _TEXT | st.floats(allow_nan=False, allow_infinity=False),
        max_size=8,
    )
)
def test_objects_round_trip(body: dict[str, object]) -> None:
    event = parse(raw(orjson.dumps(body)))
    assert event.get("app", {}) == body
