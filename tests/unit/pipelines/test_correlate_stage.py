"""correlate: request and trace IDs, from keys, traceparent, the message, or the thread."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines import Pipeline, tags
from pipelines.correlate import Correlate, CorrelateConfig, parse_traceparent
from pipelines.errors import PipelineConfigError

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{SPAN}-01"


def correlate(
    app: dict[str, Any], config: CorrelateConfig | None = None, **event: Any
) -> dict[str, Any]:
    return Correlate(config)({"app": app, **event})


def test_keys() -> None:
    event = correlate(
        {"request_id": "r-1", "trace_id": TRACE, "spanId": SPAN, "transaction_id": 7, "other": 1}
    )
    assert event["http"] == {"request": {"id": "r-1"}}
    assert event["trace"] == {"id": TRACE}
    assert event["span"] == {"id": SPAN}
    assert event["transaction"] == {"id": "7"}
    assert event["app"] == {"other": 1}


def test_correlation_id_goes_to_the_request_id_and_the_first_wins() -> None:
    event = correlate({"correlation_id": "c-1", "x_request_id": "r-2"})
    assert event["http"]["request"]["id"] == "c-1"
    assert event["app"] == {"x_request_id": "r-2"}


def test_traceparent() -> None:
    event = correlate({"traceparent": TRACEPARENT})
    assert event["trace"] == {"id": TRACE}
    assert event["span"] == {"id": SPAN}
    assert "app" not in event


def test_explicit_ids_win_over_traceparent_which_then_stays() -> None:
    event = correlate({"trace_id": "other", "traceparent": TRACEPARENT})
    assert event["trace"] == {"id": "other"}
    assert event["span"] == {"id": SPAN}
    assert event["app"] == {"traceparent": TRACEPARENT}


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        f"ff-{TRACE}-{SPAN}-01",  # version ff is forbidden
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-{SPAN}-01",
        12,
    ],
)
def test_invalid_traceparent_is_ignored_and_tagged(value: object) -> None:
    event = correlate({"traceparent": value})
    assert event["tags"] == [tags.TRACEPARENT_INVALID]
    assert event["app"] == {"traceparent": value}
    assert "trace" not in event


def test_future_versions_may_carry_more_fields() -> None:
    assert parse_traceparent(f"01-{TRACE}-{SPAN}-01-what-ever") == (TRACE, SPAN)
    assert parse_traceparent(f"00-{TRACE.upper()}-{SPAN}-01") == (TRACE, SPAN)


@given(st.text(max_size=80))
def test_traceparent_parser_never_raises(text: str) -> None:
    result = parse_traceparent(text)
    if result is not None:
        assert len(result[0]) == 32 and len(result[1]) == 16


def test_message_pattern() -> None:
    config = CorrelateConfig(
        message_pattern=r"req=(?P<request_id>[\w-]+)(?: trace=(?P<trace_id>\w+))?"
    )
    event = Correlate(config)({"message": "GET /x req=abc-1 trace=t9 done"})
    assert event["http"] == {"request": {"id": "abc-1"}}
    assert event["trace"] == {"id": "t9"}


def test_message_pattern_fills_only_missing() -> None:
    config = CorrelateConfig(message_pattern=r"req=(?P<request_id>\S+)")
    event = Correlate(config)({"app": {"request_id": "from-key"}, "message": "req=from-text"})
    assert event["http"]["request"]["id"] == "from-key"


def test_ids_that_are_not_ids_stay() -> None:
    event = correlate({"request_id": {"a": 1}, "trace_id": "", "span_id": "x" * 1000})
    assert set(event["app"]) == {"request_id", "trace_id", "span_id"}


def _line(
    at: str, ids: dict[str, Any] | None = None, thread: int = 1, task: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@timestamp": at,
        "process": {"pid": 10, "thread": {"id": thread, "name": "MainThread"}},
        "host": {"name": "h"},
    }
    if ids:
        event["app"] = ids
    if task:
        event["labels"] = {"task_name": task}
    return event


def test_inheritance_within_the_window() -> None:
    stage = Correlate(CorrelateConfig(inherit=True, inherit_window_s=2))
    stage(_line("2024-05-01T12:00:00.000Z", {"request_id": "r-1", "trace_id": "t-1"}))
    follower = stage(_line("2024-05-01T12:00:01.500Z"))
    assert follower["http"] == {"request": {"id": "r-1"}}
    assert follower["trace"] == {"id": "t-1"}
    assert follower["tags"] == [tags.CORRELATION_INHERITED]
    late = stage(_line("2024-05-01T12:00:03.000Z"))  # 3 s after the line that had the IDs
    assert "http" not in late


def test_inheritance_is_per_thread_and_task() -> None:
    stage = Correlate(CorrelateConfig(inherit=True))
    stage(_line("2024-05-01T12:00:00.000Z", {"request_id": "r-1"}, thread=1, task="Task-1"))
    assert "http" not in stage(_line("2024-05-01T12:00:00.100Z", thread=2, task="Task-1"))
    assert "http" not in stage(_line("2024-05-01T12:00:00.100Z", thread=1, task="Task-2"))
    assert (
        stage(_line("2024-05-01T12:00:00.100Z", thread=1, task="Task-1"))["http"]["request"]["id"]
        == "r-1"
    )


def test_inheritance_off_by_default() -> None:
    stage = Correlate()
    stage(_line("2024-05-01T12:00:00.000Z", {"request_id": "r-1"}))
    assert "http" not in stage(_line("2024-05-01T12:00:00.100Z"))


def test_inheritance_needs_a_thread() -> None:
    stage = Correlate(CorrelateConfig(inherit=True))
    stage(
        {
            "@timestamp": "2024-05-01T12:00:00.000Z",
            "process": {"pid": 1},
            "app": {"request_id": "r"},
        }
    )
    assert "http" not in stage({"@timestamp": "2024-05-01T12:00:00.000Z", "process": {"pid": 1}})


def test_inheritance_memory_is_bounded() -> None:
    stage = Correlate(CorrelateConfig(inherit=True, inherit_max_keys=3))
    for thread in range(10):
        stage(_line("2024-05-01T12:00:00.000Z", {"request_id": f"r-{thread}"}, thread=thread))
    assert len(stage._recent) == 3
    assert "http" not in stage(_line("2024-05-01T12:00:00.100Z", thread=0))  # evicted
    assert stage(_line("2024-05-01T12:00:00.100Z", thread=9))["http"]["request"]["id"] == "r-9"


@pytest.mark.parametrize(
    ("stage", "key"),
    [
        ({"inherit_window_s": 0}, "inherit_window_s"),
        ({"inherit_max_keys": 0}, "inherit_max_keys"),
        ({"message_pattern": "("}, "message_pattern"),
        ({"message_pattern": "(?P<nope>x)"}, "message_pattern"),
        ({"window_s": 1}, "window_s"),
    ],
)
def test_bad_config_names_the_key(stage: dict[str, Any], key: str) -> None:
    with pytest.raises(PipelineConfigError, match=rf"^pipeline\[1\]\.{key}: "):
        Pipeline.from_config([{"type": "parse"}, {"type": "correlate", **stage}])


def test_a_key_in_two_lists_is_refused() -> None:
    with pytest.raises(PipelineConfigError, match=r"pipeline\[0\]: .*'x' is in both"):
        Pipeline.from_config([{"type": "correlate", "trace_id_keys": ["x"], "span_id_keys": ["x"]}])
