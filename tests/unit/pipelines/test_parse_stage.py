"""parse: every line becomes an event; the envelope only the raw line knows is always there."""

from __future__ import annotations

import json

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


# Issue 11, item 12: values the JSON reader would change, without a word.


@pytest.mark.parametrize(
    "line",
    [
        b'{"a": 1, "a": 2}',
        b'{"a":1,"a":2}',
        b'{"b": {"a": 1, "a": 2}, "c": 3}',  # nested
        b'{"l": [{"a": 1}, {"a": 1, "a": 2}]}',  # in a list
        b'{"m": "he said \\"x\\": y", "a": 1, "a": 2}',  # a '":' inside a string
    ],
)
def test_issue11_item12_duplicate_keys_keep_the_last_tagged_with_the_whole_line(
    line: bytes,
) -> None:
    for parser in (parse, Parse(ParseConfig(), CONTEXT)):
        event = parser(raw(line))
        assert event["tags"] == [tags.DUPLICATE_KEYS]
        assert event["event"]["original"] == line.decode()  # the other values are kept
        assert event["app"] == orjson.loads(line)  # the last value counts, as before


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"id": 123456789012345678901234567890}', {"id": "123456789012345678901234567890"}),
        (b'{"id": 18446744073709551616, "n": 1}', {"id": "18446744073709551616", "n": 1}),
        (b'{"id": -9223372036854775809}', {"id": "-9223372036854775809"}),
        (b'{"x": {"id": [1, 99999999999999999999]}}', {"x": {"id": [1, "99999999999999999999"]}}),
        (b'{"id": ' + b"9" * 5000 + b"}", {"id": "9" * 5000}),  # beyond int()'s own limit
    ],
)
def test_issue11_item12_integers_beyond_64_bits_keep_their_digits_tagged(
    line: bytes, expected: dict[str, object]
) -> None:
    event = parse(raw(line))
    assert event["app"] == expected
    assert event["tags"] == [tags.INTEGER_OUT_OF_RANGE]
    assert "original" not in event["event"]


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": 18446744073709551615, "n": -9223372036854775808}',  # the 64-bit limits fit
        b'{"ts": 1714564800123456789}',  # epoch nanoseconds: 19 digits
        b'{"id": "123456789012345678901234567890"}',  # digits in a string
        b'{"a": {"b": 1}, "c": [{"d": 2}], "e": "f\\": g"}',
        b'{"big": 1e300, "a": 1}',
    ],
)
def test_issue11_item12_lines_orjson_reads_faithfully_are_untouched(line: bytes) -> None:
    event = parse(raw(line))
    assert event["app"] == orjson.loads(line)
    assert "tags" not in event
    assert "original" not in event["event"]


def test_issue11_item12_a_tagged_line_still_runs_every_stage() -> None:
    from pipelines import Pipeline

    pipeline = Pipeline.from_config(None, CONTEXT)
    line = b'{"asctime": "2024-05-01 12:00:00,001", "password": "a", "password": "b", "n": 1}'
    event = pipeline(raw(line))
    assert event["tags"] == [tags.DUPLICATE_KEYS, tags.REDACTED]
    assert event["@timestamp"] == "2024-05-01T12:00:00.001Z"
    assert "[REDACTED" in event["event"]["original"] and '"a"' not in event["event"]["original"]


_KEYS = st.sampled_from(["a", "b", "c", "message", 'x"y', "é"])
_VALUES = st.recursive(
    st.integers(-(2**70), 2**70) | st.text(max_size=8) | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.lists(st.tuples(_KEYS, inner), max_size=4),
    max_leaves=12,
)


def _write(value: object, separators: tuple[str, str]) -> str:
    """JSON text that may repeat a key (pairs are written as given)."""
    item, colon = separators
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return (
            "{" + item.join(json.dumps(k) + colon + _write(v, separators) for k, v in value) + "}"
        )
    if isinstance(value, list):
        return "[" + item.join(_write(v, separators) for v in value) + "]"
    return json.dumps(value)


@given(
    st.lists(st.tuples(_KEYS, _VALUES), min_size=1, max_size=6),
    st.sampled_from([(",", ":"), (", ", ": ")]),
)
def test_issue11_item12_tagged_exactly_when_a_key_repeats_or_an_integer_is_too_big(
    pairs: list[tuple[str, object]], separators: tuple[str, str]
) -> None:
    text = _write(pairs, separators)
    exact = json.loads(text, object_pairs_hook=_Pairs)
    event = parse(raw(text))
    found = set(event.get("tags", []))
    assert (tags.DUPLICATE_KEYS in found) == _Pairs.repeated(exact)
    assert (tags.INTEGER_OUT_OF_RANGE in found) == _too_big(exact)


class _Pairs(list[tuple[str, object]]):
    @staticmethod
    def repeated(value: object) -> bool:
        if isinstance(value, _Pairs):
            keys = [k for k, _ in value]
            return len(set(keys)) != len(keys) or any(_Pairs.repeated(v) for _, v in value)
        if isinstance(value, list):
            return any(_Pairs.repeated(v) for v in value)
        return False


def _too_big(value: object) -> bool:
    if isinstance(value, _Pairs):
        return any(_too_big(v) for _, v in value)
    if isinstance(value, list):
        return any(_too_big(v) for v in value)
    return type(value) is int and not -(2**63) <= value <= 2**64 - 1


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


def test_issue11_item12_an_integer_too_long_for_a_double_is_kept_too() -> None:
    line = b'{"n": 1' + b"0" * 400 + b', "n": 2}'
    event = parse(raw(line))
    assert event["app"] == {"n": 2}
    assert event["tags"] == [tags.INTEGER_OUT_OF_RANGE, tags.DUPLICATE_KEYS]
    assert event["event"]["original"] == line.decode()
    # A float beyond a double, and NaN, stay what they were: not JSON orjson takes.
    for bad in (b'{"a": 1e400}', b'{"a": NaN, "b": 1' + b"0" * 400 + b"}"):
        assert parse(raw(bad))["tags"] == [tags.JSON_PARSE_FAILURE]
