"""The bad-input corpus: each line yields an event with the right tag, never an exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from pipelines import tags

MiB = 1024 * 1024


def _truncated_big_line() -> bytes:
    # A 5 MiB JSON line; the source cuts it at 1 MiB and tags it.
    big = orjson.dumps({"message": "x" * (5 * MiB), "level": "INFO"})
    return big[:MiB]


CORPUS: list[tuple[str, bytes, tuple[str, ...], list[str] | None]] = [
    (
        "invalid utf-8",
        b"\xc3\x28 \xa0\xa1 not utf8",
        (),
        [tags.INVALID_UTF8, tags.JSON_PARSE_FAILURE],
    ),
    ("binary", bytes(range(256)), (), [tags.INVALID_UTF8, tags.JSON_PARSE_FAILURE]),
    ("nul bytes", b"\x00\x00\x00", (), [tags.JSON_PARSE_FAILURE]),
    (
        "5 MiB line cut at 1 MiB",
        _truncated_big_line(),
        (tags.TRUNCATED,),
        [tags.TRUNCATED, tags.JSON_PARSE_FAILURE],
    ),
    ("10,000-deep nesting", b"[" * 10_000 + b"]" * 10_000, (), [tags.TOO_DEEP]),
    ("deep objects", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, (), [tags.TOO_DEEP]),
    ("array", b'[{"message": "x"}]', (), [tags.NOT_OBJECT]),
    ("number", b"12345", (), [tags.NOT_OBJECT]),
    ("string", b'"hello"', (), [tags.NOT_OBJECT]),
    ("null", b"null", (), [tags.NOT_OBJECT]),
    # issue 11, item 12: not changed silently
    ("duplicate keys", b'{"message": "a", "message": "b"}', (), [tags.DUPLICATE_KEYS]),
    ("NaN", b'{"duration_ms": NaN}', (), [tags.JSON_PARSE_FAILURE]),
    ("Infinity", b'{"duration_ms": Infinity}', (), [tags.JSON_PARSE_FAILURE]),
    ("huge exponent", b'{"duration_ms": 1e400}', (), [tags.JSON_PARSE_FAILURE]),
    ("CRLF remnant", b'{"message": "ok"}\r', (), []),
    ("lone CR", b"\r", (), [tags.EMPTY]),
    ("empty", b"", (), [tags.EMPTY]),
    ("whitespace", b" \t ", (), [tags.EMPTY]),
    ("partial", b'{"message": "half', (tags.PARTIAL,), [tags.PARTIAL, tags.JSON_PARSE_FAILURE]),
    ("truncated but whole", b'{"message": "fits"}', (tags.TRUNCATED,), [tags.TRUNCATED]),
    ("bom", b'\xef\xbb\xbf{"message": "x"}', (), []),
    ("lone surrogate escape", b'{"message": "\\ud800"}', (), None),  # orjson's call; no crash
    ("control chars", b'{"message": "a\x01b"}', (), [tags.JSON_PARSE_FAILURE]),
    ("big int", b'{"n": 123456789012345678901234567890}', (), [tags.INTEGER_OUT_OF_RANGE]),
]


@pytest.mark.parametrize(
    ("data", "source_tags", "expected"),
    [pytest.param(data, source, expected, id=name) for name, data, source, expected in CORPUS],
)
def test_corpus_line_becomes_a_tagged_event(
    run: Callable[..., dict[str, Any]],
    data: bytes,
    source_tags: tuple[str, ...],
    expected: list[str] | None,
) -> None:
    event = run(data, tags=source_tags)
    structural = [tag for tag in event.get("tags", []) if tag != tags.TIMESTAMP_MISSING]
    if expected is not None:
        assert structural == expected
    assert "message" in event or "app" in event or event.get("error") or event.get("log")
    assert event["event"]["id"]
    assert event["@timestamp"]
    orjson.dumps(event)  # the sink can always serialise it


def test_truncated_fragment_keeps_its_text(run: Callable[..., dict[str, Any]]) -> None:
    data = _truncated_big_line()
    event = run(data, tags=(tags.TRUNCATED,))
    assert event["message"] == data.decode()
    assert len(event["message"]) == MiB


def test_duplicate_keys_last_wins(run: Callable[..., dict[str, Any]]) -> None:
    assert run(b'{"message": "a", "message": "b"}')["message"] == "b"
