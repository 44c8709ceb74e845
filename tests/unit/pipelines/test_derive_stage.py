"""derive: event.duration, event.outcome and error.grouping_key."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines import tags
from pipelines.derive import Derive, DeriveConfig, parse_duration_ns, unit_of_key
from pipelines.grouping import grouping_key, mask_variables


def derive(event: dict[str, Any], config: DeriveConfig | None = None) -> dict[str, Any]:
    return Derive(config)(event)


@pytest.mark.parametrize(
    ("key", "value", "nanos"),
    [
        ("duration_ms", 12.5, 12_500_000),
        ("duration_us", 250, 250_000),
        ("duration_ns", 42, 42),
        ("duration_s", 1.5, 1_500_000_000),
        ("duration_seconds", 2, 2_000_000_000),
        ("duration", 7, 7_000_000),  # no suffix: milliseconds by default
        ("latency", "12.5ms", 12_500_000),
        ("elapsed", "1.2s", 1_200_000_000),
        ("took", "350us", 350_000),
        ("took_ms", "3", 3_000_000),
        ("response_time", "1m30.5s", 90_500_000_000),
        ("request_time", 0.25, 250_000_000),  # nginx: seconds
        ("latency", "0.5 ms", 500_000),
    ],
)
def test_duration(key: str, value: Any, nanos: int) -> None:
    event = derive({"app": {key: value, "x": 1}})
    assert event["event"]["duration"] == nanos
    assert event["app"] == {"x": 1}


def test_default_unit_is_configurable() -> None:
    event = derive({"app": {"elapsed": 2}}, DeriveConfig(duration_default_unit="s"))
    assert event["event"]["duration"] == 2_000_000_000


@pytest.mark.parametrize(
    "value", [-1, "soon", "12 parsecs", True, {"ms": 1}, float("inf"), "1e400"]
)
def test_invalid_duration_stays_and_is_tagged(value: Any) -> None:
    event = derive({"app": {"duration_ms": value}})
    assert event["app"] == {"duration_ms": value}
    assert event["tags"] == [tags.DURATION_INVALID]
    assert "duration" not in event.get("event", {})


def test_first_valid_duration_in_priority_order() -> None:
    event = derive({"app": {"latency": 5, "duration_ms": "bad", "elapsed_ms": 9}})
    assert event["event"]["duration"] == 5_000_000  # duration_ms is first but invalid
    assert event["app"] == {"duration_ms": "bad", "elapsed_ms": 9}


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("duration_ms", "ms"),
        ("durationMs", "ms"),
        ("latencySeconds", "s"),
        ("x-time-us", "us"),
        ("duration", "ms"),
        ("ms", "ms"),
        ("status", "ms"),
    ],
)
def test_unit_of_key(key: str, unit: str) -> None:
    assert unit_of_key(key) == unit


@given(st.integers(0, 10**9), st.sampled_from(["ns", "us", "ms", "s"]))
def test_duration_number_and_string_agree(amount: int, unit: str) -> None:
    assert parse_duration_ns(f"{amount}{unit}", "ms") == parse_duration_ns(amount, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "success"), (302, "success"), (399, "success"), (400, "failure"), (503, "failure")],
)
def test_outcome_from_status(status: int, outcome: str) -> None:
    event = derive({"http": {"response": {"status_code": status}}, "log": {"level": "error"}})
    assert event["event"]["outcome"] == outcome


def test_outcome_from_level_only_for_errors() -> None:
    assert derive({"log": {"level": "error"}})["event"]["outcome"] == "failure"
    assert "event" not in derive({"log": {"level": "info"}})
    assert "event" not in derive(
        {"log": {"level": "error"}}, DeriveConfig(outcome_from_level=False)
    )


def test_failure_threshold_is_configurable() -> None:
    event = derive(
        {"http": {"response": {"status_code": 404}}}, DeriveConfig(failure_status_min=500)
    )
    assert event["event"]["outcome"] == "success"


def test_outcome_from_the_line_is_kept() -> None:
    event = derive({"event": {"outcome": "unknown"}, "http": {"response": {"status_code": 500}}})
    assert event["event"]["outcome"] == "unknown"


def test_grouping_key_ignores_variable_parts() -> None:
    first = derive({"error": {"type": "KeyError", "message": "order 123 not found for 'alice'"}})
    second = derive({"error": {"type": "KeyError", "message": "order 98765 not found for 'bob'"}})
    other = derive({"error": {"type": "ValueError", "message": "order 123 not found for 'alice'"}})
    key = first["error"]["grouping_key"]
    assert key == second["error"]["grouping_key"]
    assert key != other["error"]["grouping_key"]
    assert len(key) == 16
    int(key, 16)


def test_grouping_key_from_a_bare_stack_trace() -> None:
    event = derive(
        {
            "error": {
                "stack_trace": "Traceback (most recent call last):\n  x\nOSError: [Errno 28] No space"
            }
        }
    )
    assert event["error"]["grouping_key"] == grouping_key("OSError", "[Errno 28] No space")


def test_error_logs_without_exception_are_grouped_by_logger_and_message() -> None:
    first = derive({"log": {"level": "error", "logger": "shop"}, "message": "payment 12 failed"})
    second = derive({"log": {"level": "error", "logger": "shop"}, "message": "payment 99 failed"})
    assert first["error"]["grouping_key"] == second["error"]["grouping_key"]
    assert "error" not in derive({"log": {"level": "info"}, "message": "fine"})
    off = DeriveConfig(group_error_logs=False)
    assert "error" not in derive({"log": {"level": "error"}, "message": "x"}, off)


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("user 42 failed", "user <num> failed"),
        ("id 550e8400-e29b-41d4-a716-446655440000 gone", "id <uuid> gone"),
        ("<Foo object at 0x7f3a2b1c>", "<Foo object at <hex>>"),
        ("hash deadbeef01 mismatch", "hash <num> mismatch"),
        ("key 'abc' missing", "key <str> missing"),
        ('key "abc" missing', "key <str> missing"),
        ("from 10.0.0.12:5432", "from <num>"),
        ("mail bob@example.com", "mail <email>"),
        ("took 1.5s", "took <num>s"),
    ],
)
def test_masking(message: str, masked: str) -> None:
    assert mask_variables(message) == masked


_HEX_ID = st.text("0123456789abcdef", min_size=8, max_size=32).filter(
    lambda s: any(c.isdigit() for c in s)
)


@given(
    st.integers(0, 10**12) | _HEX_ID,
    st.integers(0, 10**12) | _HEX_ID,
    st.uuids(),
    st.uuids(),
    st.text("abcdefghij ", max_size=10),
    st.text("abcdefghij ", max_size=10),
)
def test_grouping_key_stable_under_numbers_and_ids(
    a: object, b: object, u: object, v: object, name_a: str, name_b: str
) -> None:
    first = grouping_key("E", f"order {a} for {u} by '{name_a}' at 0x{hash(a) & 0xFFFF:x} failed")
    second = grouping_key("E", f"order {b} for {v} by '{name_b}' at 0x{hash(b) & 0xFFFF:x} failed")
    assert first == second
