"""Hostile input, fuzzed (issue 11, "done means"): random bytes through the line reader and the
shipper's pipeline, and random checkpoint files through the checkpoint loader.

Asserted for every example: no exception escapes; the lines tile the input (every byte in exactly
one line); every line yields exactly one event, in order, carrying its offset, with no stage
failing on it (``_pipelineerror``); the event carries the line's content. A checkpoint file of any
content loads without raising, and whatever it yields can be saved and loaded back unchanged.

Bounded for CI: a few seconds per test (``LOGFERRY_FUZZ_EXAMPLES`` examples each, default 150;
raise it to fuzz longer locally).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import Pipeline
from pipelines.types import RawLine
from shipper.checkpoint import CheckpointStore
from shipper.config import ShipperConfig
from shipper.pipeline import PIPELINE_ERROR_TAG, EncoderSettings, EventEncoder
from shipper.sources.lines import LineCutter

_EXAMPLES = int(os.environ.get("LOGFERRY_FUZZ_EXAMPLES", "150"))
_FUZZ = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values a hostile or broken app may write: the types JSON has, numbers at and beyond every
# limit, keys the stages look at, strings with what the rules and parsers react to.
_KEYS = st.sampled_from(
    [
        "ts",
        "time",
        "@timestamp",
        "asctime",
        "level",
        "levelname",
        "message",
        "msg",
        "password",
        "pin",
        "name",
        "value",
        "status",
        "duration_ms",
        "request_id",
        "traceparent",
        "trace_id",
        "exc_info",
        "service",
        "bob@example.com",
        "",
    ]
)
_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from([0, -1, 12, 1e30, -1e15, 4111111111111111, 4111111111111111.0, 2**64]),
)
_STRINGS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "0",
            "2024-05-01T12:00:00Z",
            "5138-01-01T00:00:00Z",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "Authorization: Token abc",
            "-----BEGIN PRIVATE KEY-----\nMII",
            "4111.1111.1111.1111",
            "\x1b]0;title\x07",
            "\ud800",
        ]
    ),
)
_JSON = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=12,
)


def _json_line(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate, an int beyond 64 bits
        return repr(value).encode("utf-8", "surrogatepass")


_LINE = st.one_of(
    st.binary(max_size=80),
    st.dictionaries(_KEYS, _JSON, max_size=6).map(_json_line),
    _JSON.map(_json_line),
    st.sampled_from([b"", b"   ", b"\xef\xbb\xbf{}", b'{"a": 1', b"[" * 2000, b'{"a":1,"a":2}']),
).map(lambda line: line.replace(b"\n", b" "))


@st.composite
def _file(draw: st.DrawFn) -> bytes:
    """Random lines, random terminators, maybe an unfinished last line; sometimes pure noise."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    lines = draw(st.lists(_LINE, max_size=12))
    ends = [draw(st.sampled_from([b"\n", b"\r\n", b"\r\r\n"])) for _ in lines]
    tail = draw(st.one_of(st.just(b""), _LINE))
    return b"".join(line + end for line, end in zip(lines, ends, strict=True)) + tail


def _cut(data: bytes, chunks: list[int], max_line_bytes: int) -> list[RawLine]:
    cutter = LineCutter(
        path="/var/log/app/app.log", file_id="fuzz:1", offset=0, max_line_bytes=max_line_bytes
    )
    lines: list[RawLine] = []
    position = 0
    for size in [*chunks, len(data)]:
        lines += cutter.feed(data[position : position + size])
        position = min(len(data), position + size)
    last = cutter.flush()
    if last is not None:
        lines.append(last)
    assert not cutter.gaps  # (only a flush in the middle of a line makes one)
    return lines


def _is_object(data: bytes) -> bool:
    try:
        return type(orjson.loads(data.decode("utf-8", "replace").lstrip("\ufeff"))) is dict
    except orjson.JSONDecodeError:
        return False


_ENCODER = EventEncoder(EncoderSettings.of(ShipperConfig()))


def _expected_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@_FUZZ
@given(
    data=_file(),
    chunks=st.lists(st.integers(min_value=1, max_value=200), max_size=20),
    max_line_bytes=st.integers(min_value=8, max_value=4096),
)
def test_issue11_fuzz_random_bytes_through_the_reader_and_the_pipeline(
    data: bytes, chunks: list[int], max_line_bytes: int
) -> None:
    lines = _cut(data, chunks, max_line_bytes)

    # The reader: one line per line of the input, and together they cover every byte once.
    assert len(lines) == _expected_lines(data)
    position = 0
    for line in lines:
        assert line.offset == position
        assert line.end_offset > line.offset
        assert len(line.data) <= max_line_bytes
        position = line.end_offset
    assert position == len(data)

    # The shipper's pipeline, as `shipper run` runs it by default: one event per line.
    batch = _ENCODER.encode(lines)
    assert len(batch.events) == len(lines)
    assert batch.failure is None, batch.failure
    assert not batch.filtered
    for line, outgoing in zip(lines, batch.events, strict=True):
        event = orjson.loads(outgoing.value)
        assert PIPELINE_ERROR_TAG not in event.get("tags", ())
        assert event["log"]["offset"] == line.offset
        assert outgoing.event_id == event["event"]["id"]
        # A line that is no JSON object is shipped as its text (an object's keys go to ECS
        # fields and the app namespace; the next test checks every byte reaches the event).
        if not _is_object(line.data):
            assert isinstance(event.get("message"), str), event
    assert len({outgoing.event_id for outgoing in batch.events}) == len(lines)


_PARSE_ONLY = Pipeline.from_config([{"type": "parse", "keep_original": True}])


@_FUZZ
@given(data=_file(), max_line_bytes=st.integers(min_value=8, max_value=4096))
def test_issue11_fuzz_the_original_line_survives_parsing(data: bytes, max_line_bytes: int) -> None:
    """Nothing of a line is lost on the way in: its bytes, decoded, are the event's original."""
    for line in _cut(data, [], max_line_bytes):
        event = _PARSE_ONLY(line)
        assert event["event"]["original"] == line.data.decode("utf-8", "replace")


# Checkpoint files: noise, JSON of any shape, and the real format with hostile values.
_ENTRY = st.fixed_dictionaries(
    {
        "path": st.one_of(st.text(max_size=20), _JSON),
        "dev": _NUMBERS | _JSON,
        "inode": _NUMBERS,
        "fingerprint": st.one_of(st.text(max_size=8), _JSON),
        "fingerprint_len": _NUMBERS,
        "offset": _NUMBERS | _JSON,
    },
    optional={
        "updated_at": st.one_of(_NUMBERS, _STRINGS, _JSON),
        "sample": st.one_of(
            _JSON,
            st.fixed_dictionaries({"end": _NUMBERS, "length": _NUMBERS, "hash": _STRINGS}),
        ),
    },
)
_DOCUMENT = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {
            "version": st.one_of(st.just(1), _JSON),
            "files": st.one_of(st.dictionaries(st.text(max_size=8), _ENTRY, max_size=4), _JSON),
        }
    ),
)
_CHECKPOINT_FILE = st.one_of(st.binary(max_size=300), _DOCUMENT.map(_json_line))


@_FUZZ
@given(content=_CHECKPOINT_FILE)
def test_issue11_fuzz_any_checkpoint_file_loads_and_saves_back(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = CheckpointStore(Path(directory))
        store.path.write_bytes(content)
        loaded = store.load()
        store.save(loaded)
        assert CheckpointStore(Path(directory)).load() == loaded
