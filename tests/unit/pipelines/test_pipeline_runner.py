"""The default pipeline end to end on python-json-logger output, plus filters and the public API."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonjsonlogger.json import JsonFormatter

import pipelines
from pipelines import DropEvent, Pipeline, PipelineContext, event_id, tags
from pipelines.errors import PipelineConfigError
from tests.unit.pipelines.support import FILE_ID, NOW, NOW_ISO, PATH, raw

FORMAT = (
    "%(asctime)s %(levelname)s %(name)s %(message)s %(filename)s %(funcName)s %(lineno)d "
    "%(process)d %(processName)s %(thread)d %(threadName)s"
)


def _format(record: logging.LogRecord, formatter: logging.Formatter) -> bytes:
    return formatter.format(record).encode()


def _record(
    message: str, level: int = logging.INFO, exc: bool = False, **extra: Any
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            exc_info = sys.exc_info()
    record = logging.LogRecord(
        "shop.web", level, "/app/shop/views.py", 87, message, None, exc_info, "handle"
    )
    record.created = 1714564800.123
    record.msecs = 123.0
    for key, value in extra.items():
        setattr(record, key, value)
    return record


class _UtcFormatter(JsonFormatter):
    converter = __import__("time").gmtime  # asctime in UTC, like a container with TZ=UTC


def test_python_json_logger_request_line(context: PipelineContext) -> None:
    line = _format(
        _record(
            "GET /api/orders 200",
            method="GET",
            path="/api/orders",
            status=200,
            duration_ms=12.5,
            request_id="req-1",
            user_id=42,
            order_count=3,
            user_email="bob@example.com",
        ),
        _UtcFormatter(FORMAT),
    )
    pipeline = Pipeline.from_config(None, context)
    event = pipeline(raw(line, offset=300))
    process = event.pop("process")
    assert process["name"] == "MainProcess" and process["thread"]["name"] == "MainThread"
    assert isinstance(process["pid"], int) and isinstance(process["thread"]["id"], int)
    assert event == {
        "@timestamp": "2024-05-01T12:00:00.123Z",
        "message": "GET /api/orders 200",
        "log": {
            "file": {"path": PATH},
            "offset": 300,
            "level": "info",
            "logger": "shop.web",
            "origin": {"file": {"name": "views.py", "line": 87}, "function": "handle"},
        },
        "event": {
            "id": event_id(FILE_ID, 300),
            "created": NOW_ISO,
            "duration": 12_500_000,
            "outcome": "success",
        },
        "agent": {"type": "logferry", "version": "0.1.0", "name": "pod-1"},
        "ecs": {"version": "9.4.0"},
        "service": {"name": "checkout", "environment": "production"},
        "host": {"name": "pod-1"},
        "http": {"request": {"method": "GET", "id": "req-1"}, "response": {"status_code": 200}},
        "url": {"path": "/api/orders"},
        "user": {"id": "42"},
        "app": {"order_count": 3, "user_email": "[REDACTED:email]"},
        "tags": [tags.REDACTED],
    }
    assert pipeline.index_for(event) == "app-logs-checkout-2024.05.01"
    observation = pipelines.MetricsExtractor()(event)
    assert observation.http == pipelines.HttpObservation("GET", "2xx", 0.0125)


def test_python_json_logger_exception(run: Callable[..., dict[str, Any]]) -> None:
    line = _format(_record("payment failed", logging.ERROR, exc=True), _UtcFormatter(FORMAT))
    event = run(line)
    assert event["log"]["level"] == "error"
    assert event["error"]["type"] == "ZeroDivisionError"
    assert event["error"]["message"] == "division by zero"
    assert event["error"]["stack_trace"].startswith("Traceback (most recent call last):")
    assert len(event["error"]["grouping_key"]) == 16
    assert event["event"]["outcome"] == "failure"
    assert "app" not in event


def test_python_json_logger_default_format(run: Callable[..., dict[str, Any]]) -> None:
    # JsonFormatter() with no format string writes only the message (and extras).
    event = run(_format(_record("hello", status="201"), JsonFormatter()))
    assert event["message"] == "hello"
    assert event["http"]["response"]["status_code"] == 201
    assert event["tags"] == [tags.TIMESTAMP_MISSING]
    assert event["@timestamp"] == NOW_ISO


def test_timestamp_true_wins_over_asctime(run: Callable[..., dict[str, Any]]) -> None:
    formatter = JsonFormatter("%(asctime)s %(message)s", timestamp=True)
    event = run(_format(_record("x"), formatter))
    assert event["@timestamp"] == "2024-05-01T12:00:00.123Z"
    assert set(event["app"]) == {"asctime"}  # the local-time copy stays, nothing is lost


def test_filters_raise_drop_event(context: PipelineContext) -> None:
    pipeline = Pipeline.from_config(
        [
            {"type": "ecs"},
            {
                "type": "drop",
                "reason": "noise",
                "levels": ["DEBUG"],
                "fields": {"url.path": ["/healthz"]},
            },
            {"type": "drop", "reason": "health", "message_regex": "^health"},
        ],
        context,
    )
    for line, reason in (
        ({"level": "debug", "message": "x"}, "noise"),
        ({"path": "/healthz"}, "noise"),
        ({"message": "health check ok"}, "health"),
    ):
        with pytest.raises(DropEvent) as caught:
            pipeline(raw(line))
        assert caught.value.reason == reason
    assert pipeline(raw({"level": "info", "path": "/api"}))["url"]["path"] == "/api"


def test_drop_field_values_compare_with_their_type(context: PipelineContext) -> None:
    pipeline = Pipeline.from_config(
        [{"type": "ecs"}, {"type": "drop", "fields": {"http.response.status_code": [1]}}], context
    )
    pipeline(raw({"status": True}))  # True == 1 in Python, not here
    with pytest.raises(DropEvent):
        pipeline(raw({"status": 1}))


def test_deterministic(context: PipelineContext) -> None:
    line = orjson.dumps(
        {"asctime": "2024-05-01 12:00:00,000", "level": "error", "message": "boom 42"}
    )
    first = Pipeline.from_config(None, context)(raw(line, offset=7))
    second = Pipeline.from_config(None, context)(raw(line, offset=7))
    assert first == second


def test_the_clock_is_only_the_injected_one() -> None:
    ticks = iter([1.0, 2.0, 3.0])
    pipeline = Pipeline.from_config(None, PipelineContext(now=lambda: next(ticks)))
    assert pipeline(raw(b"x"))["event"]["created"] == "1970-01-01T00:00:01.000Z"
    assert pipeline(raw(b"y"))["@timestamp"] == "1970-01-01T00:00:02.000Z"


def test_context_validation() -> None:
    with pytest.raises(PipelineConfigError, match="namespace: 'log' is an ECS field set"):
        PipelineContext(namespace="log")
    with pytest.raises(PipelineConfigError, match="namespace"):
        PipelineContext(namespace="Bad Name")


def test_public_api_is_what_it_claims() -> None:
    for name in pipelines.__all__:
        assert getattr(pipelines, name) is not None
    assert {
        "Pipeline",
        "PipelineContext",
        "RawLine",
        "DropEvent",
        "MetricsExtractor",
        "Router",
    } <= set(pipelines.__all__)
    for module in (
        "config",
        "context",
        "correlate",
        "derive",
        "drop",
        "ecs",
        "errors",
        "grouping",
        "levels",
        "metrics",
        "parse",
        "pipeline",
        "redact",
        "route",
        "tags",
        "timestamps",
        "types",
    ):
        imported = importlib.import_module(f"pipelines.{module}")
        for name in imported.__all__:
            assert hasattr(imported, name), f"pipelines.{module}.{name}"


def test_importing_pipelines_pulls_in_no_io_library() -> None:
    # (socket itself is imported by pydantic's plugin loader; the runtime's I/O stack must not be.)
    code = (
        "import sys, pipelines, pipelines.metrics\n"
        "bad = {'aiohttp', 'aiokafka', 'elasticsearch', 'prometheus_client', 'asyncio', 'shipper.sinks'}\n"
        "print(sorted(bad & ({name.split('.')[0] for name in sys.modules} | set(sys.modules))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_now_is_used_for_read_time(run: Callable[..., dict[str, Any]]) -> None:
    assert run(b"plain")["event"]["created"] == NOW_ISO
    assert NOW == 1714564800.5


_KEYS = st.sampled_from(
    [
        "message",
        "msg",
        "level",
        "levelname",
        "status",
        "method",
        "path",
        "user",
        "host",
        "service",
        "duration_ms",
        "latency",
        "request_id",
        "trace_id",
        "traceparent",
        "exc_info",
        "error",
        "timestamp",
        "asctime",
        "ts",
        "password",
        "token",
        "log",
        "event",
        "app",
        "log.level",
        "http.response.status_code",
        "taskName",
        "thread",
        "process",
    ]
) | st.text(st.characters(codec="utf-8"), max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=40)
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _JSON, max_size=10))
def test_any_object_goes_through_every_stage(body: dict[str, Any]) -> None:
    context = PipelineContext(now=lambda: NOW)
    pipeline = Pipeline.from_config(
        [
            {"type": "parse"},
            {"type": "timestamp"},
            {"type": "redact"},
            {"type": "ecs"},
            {"type": "correlate", "inherit": True},
            {"type": "derive"},
        ],
        context,
    )
    event = pipeline(raw(orjson.dumps(body)))
    orjson.dumps(event)
    assert event["event"]["id"] and event["@timestamp"]
    assert pipeline.index_for(event).startswith("app-logs-")
    pipelines.MetricsExtractor()(event)
