"""The chain compiled per key set gives exactly the events of the stages run generically.

``Pipeline.from_config`` compiles the chain per key set (:mod:`pipelines.pipeline`); these tests
run the same lines through a twin pipeline built with ``compiled=False`` and compare the
serialised events byte for byte (key order included), over realistic lines, the bad-input
corpus and random objects whose key sets repeat with other values (a step that assumed too much
would show), for the default chain and for chains configured otherwise.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from unittest.mock import patch

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipelines.ecs
from pipelines import DropEvent, Pipeline, PipelineContext, RawLine
from tests.unit.pipelines.support import FILE_ID, PATH
from tests.unit.pipelines.test_bad_input_corpus import CORPUS

Stages = Sequence[Mapping[str, Any]] | None


def _context() -> PipelineContext:
    clock = iter(range(10**9))  # a moving read time: both pipelines read it once per line
    return PipelineContext(
        service_name="shop",
        service_environment="production",
        host_name="pod-1",
        agent_version="0.1.0",
        now=lambda: 1714564800.0 + next(clock) * 0.0007,
    )


def _twins(
    stages: Stages = None, context: Callable[[], PipelineContext] = _context
) -> tuple[Pipeline, Pipeline]:
    compiled = Pipeline.from_config(stages, context())
    return compiled, Pipeline.from_config(stages, context(), compiled=False)


def _outcome(pipeline: Pipeline, line: RawLine) -> bytes | str:
    try:
        return orjson.dumps(pipeline(line))
    except DropEvent as drop:
        return f"drop:{drop.reason}"


def _same_events(
    lines: Sequence[bytes],
    stages: Stages = None,
    *,
    unroll_after: int | None = None,
    context: Callable[[], PipelineContext] = _context,
) -> None:
    """``unroll_after``: how many lines of a key set ecs runs before unrolling its moves (its
    own default unless given: 1 puts short runs of random lines through the unrolled code)."""
    compiled, plain = _twins(stages, context)
    after = pipelines.ecs._UNROLL_AFTER if unroll_after is None else unroll_after
    with patch.object(pipelines.ecs, "_UNROLL_AFTER", after):
        for offset, data in enumerate(lines):
            line = RawLine(data, PATH, FILE_ID, offset)
            assert _outcome(compiled, line) == _outcome(plain, line), data


def _app_lines(count: int, seed: int) -> list[bytes]:
    """python-json-logger-like lines, now and then with an unusual value or key."""
    rng = random.Random(seed)
    odd_values: list[Any] = [
        None,
        "",
        "bob@example.com",
        "Bearer abcdefghijkl",
        "4111 1111 1111 1111",
        4111111111111111,
        140528895302528,
        "x?y=1",
        {"password": "p"},
        [1, "a@b.co"],
        "abc",
        -5,
        1.5,
        True,
        "2024-05-01T12:00:00Z",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "Traceback (most recent call last):\nValueError: bad",
    ]
    odd_keys = ["password", "traceparent", "trace_id", "duration", "@timestamp", "event.outcome"]
    lines = []
    for index in range(count):
        record: dict[str, Any] = {
            "asctime": f"2024-05-01 12:00:{index % 60:02d},{index % 1000:03d}",
            "levelname": rng.choice(["INFO", "WARNING", "ERROR", "debug"]),
            "name": "shop.web",
            "message": f"GET /api/orders/{rng.randint(1, 999)} 200",
            "process": 4242,
            "thread": 140528895302528,
            "method": rng.choice(["GET", "POST"]),
            "path": "/api/orders",
            "status": rng.choice([200, 404, 500]),
            "duration_ms": round(rng.random() * 100, 3),
            "request_id": f"{rng.getrandbits(64):016x}",
            "user_id": rng.randint(1, 50),
        }
        roll = rng.random()
        if roll < 0.3:
            record[rng.choice(list(record))] = rng.choice(odd_values)
        elif roll < 0.4:
            record[rng.choice(odd_keys)] = rng.choice(odd_values)
        elif roll < 0.45:
            del record["asctime"]
        lines.append(orjson.dumps(record))
    return lines


def test_realistic_lines() -> None:
    _same_events(_app_lines(3000, seed=1))
    _same_events(_app_lines(1000, seed=4), unroll_after=1)


def test_bad_input_corpus() -> None:
    _same_events([data for _, data, _, _ in CORPUS])
    _same_events([data for _, data, _, _ in CORPUS] * 3, unroll_after=1)


_ORDER = ("timestamp", "redact", "ecs", "correlate", "derive")


def _chain(
    order: Sequence[str] = _ORDER, extra: Sequence[str] = (), **settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """A stage list: parse, ``order``, ``extra``, each with its ``settings`` (by type)."""
    return [{"type": kind, **settings.get(kind, {})} for kind in ("parse", *order, *extra)]


@pytest.mark.parametrize(
    "stages",
    [
        _chain(
            timestamp={"timezone": "Europe/Berlin", "precision": "us"},
            ecs={"mapping": {"order": "labels.order"}},
            derive={"failure_status_min": 500},
        ),
        _chain(parse={"empty_lines": "drop"}, redact={"emails": False, "cards": False}),
        _chain(extra=["drop"], drop={"levels": ["debug"], "fields": {"url.path": ["/health"]}}),
    ],
)
def test_configured_default_chains(stages: list[dict[str, Any]]) -> None:
    _same_events([*_app_lines(500, seed=2), b"", b"  "], stages)
    _same_events([*_app_lines(200, seed=5), b"", b"  "], stages, unroll_after=1)


@pytest.mark.parametrize(
    "stages",
    [
        _chain(parse={"keep_original": True}),
        _chain(order=("timestamp", "ecs", "redact", "correlate", "derive")),
        _chain(redact={"extra_patterns": {"iban": "DE[0-9]{20}"}}),
        _chain(redact={"skip_fields": ["agent"]}),
        _chain(correlate={"inherit": True}),
        _chain(correlate={"message_pattern": "req=(?P<request_id>[0-9a-f]+)"}),
        _chain(
            order=("timestamp", "redact", "ecs", "correlate", "drop", "derive"),
            drop={"levels": ["debug"]},
        ),
        _chain(order=("redact", "timestamp", "derive", "ecs", "correlate")),
        _chain(order=("ecs", "derive")),
    ],
)
def test_other_chains(stages: list[dict[str, Any]]) -> None:
    """Chains the old fused path did not cover: compiled as far as the stages allow."""
    _same_events([*_app_lines(500, seed=3), b"", b"  "], stages)


def _steps(pipeline: Pipeline, data: dict[str, Any]) -> tuple[int, int]:
    """How many stages run compiled and generically for a line like ``data``."""
    line = orjson.dumps(data)
    pipeline(RawLine(line, PATH, FILE_ID, 0))
    assert pipeline._chain is not None
    steps, tail = pipeline._chain(tuple(orjson.loads(line)))
    return len(steps), len(tail)


def test_the_default_chain_compiles_whole() -> None:
    pipeline = Pipeline.from_config(None, _context())
    line = {"asctime": "2024-05-01 12:00:00,123", "levelname": "INFO", "message": "m", "a": 1}
    assert _steps(pipeline, line) == (5, 0)
    # A secret's name in the key set: redact (and what follows it) runs generically.
    assert _steps(pipeline, {**line, "password": "p"}) == (1, 4)
    # A traceparent decides by its value what stays: correlate onwards, generically.
    assert _steps(pipeline, {**line, "traceparent": "00-x"}) == (3, 2)


def test_what_does_not_compile() -> None:
    assert Pipeline.from_config(_chain(parse={"keep_original": True}), _context())._chain is None
    assert Pipeline.from_config(None, _context(), compiled=False)._chain is None
    moved = Pipeline.from_config(_chain(order=("ecs", "redact", "derive")), _context())
    assert _steps(moved, {"message": "m", "a": 1}) == (1, 2)  # ecs writes what redact walks
    iban = Pipeline.from_config(_chain(redact={"extra_patterns": {"iban": "x"}}), _context())
    assert _steps(iban, {"message": "m", "a": 1}) == (1, 4)


_KEYS = [
    "asctime",
    "timestamp",
    "time",
    "levelname",
    "level",
    "message",
    "msg",
    "status",
    "method",
    "path",
    "url",
    "user",
    "user_id",
    "service",
    "host",
    "client_ip",
    "exc_info",
    "error",
    "trace_id",
    "traceId",
    "span_id",
    "request_id",
    "correlation_id",
    "duration_ms",
    "duration",
    "latency",
    "took",
    "password",
    "token_count",
    "log.level",
    "trace.id",
    "http.request.id",
    "event.duration",
    "error.grouping_key",
    "order_id",
    "note",
]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([200, 404, 500, 99, 4111111111111111, 378282246310005, 140528895302528]),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "INFO",
            "warn",
            "ERROR",
            "GET",
            "/p?q=1",
            "10.0.0.1",
            "2024-05-01 12:00:00,123",
            "2024-05-01T12:00:00.5Z",
            "1714564800",
            "a@b.co",
            "Bearer abcdefghijkl",
            "card 4111-1111-1111-1111",
            "ValueError: bad 42",
            "12.5ms",
            "",
            " ",
        ]
    ),
    st.text(alphabet="aZ09 @:=._-/?'\"\n", max_size=20),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner),
    max_leaves=4,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    keys=st.lists(st.sampled_from(_KEYS), min_size=1, max_size=10, unique=True),
    rows=st.lists(st.lists(_VALUES, min_size=10, max_size=10), min_size=1, max_size=4),
)
def test_random_objects_sharing_key_sets(keys: list[str], rows: list[list[Any]]) -> None:
    lines = [orjson.dumps(dict(zip(keys, row, strict=False))) for row in rows]
    _same_events(lines, unroll_after=1)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    keys=st.lists(st.sampled_from(_KEYS), min_size=1, max_size=10, unique=True),
    rows=st.lists(st.lists(_VALUES, min_size=10, max_size=10), min_size=1, max_size=4),
)
def test_random_objects_without_configured_service(keys: list[str], rows: list[list[Any]]) -> None:
    """Without service and host in the context, the line's own go to those fields."""
    lines = [orjson.dumps(dict(zip(keys, row, strict=False))) for row in rows]
    _same_events(lines, unroll_after=1, context=lambda: PipelineContext(now=lambda: 1714564800.0))


def test_a_key_set_seen_once_is_not_unrolled() -> None:
    """Unrolling costs an exec: only key sets that come back are worth it."""
    compiled, _ = _twins()
    line = orjson.dumps({"levelname": "INFO", "message": "m", "a": 1})
    calls: list[object] = []
    original = pipelines.ecs.Ecs._unrolled

    def counting(self: pipelines.ecs.Ecs, *args: Any) -> Any:
        calls.append(args)
        return original(self, *args)

    with patch.object(pipelines.ecs.Ecs, "_unrolled", counting):
        for offset in range(pipelines.ecs._UNROLL_AFTER - 1):
            compiled(RawLine(line, PATH, FILE_ID, offset))
        assert calls == []
        for offset in range(20):
            compiled(RawLine(line, PATH, FILE_ID, offset))
        assert len(calls) == 1
