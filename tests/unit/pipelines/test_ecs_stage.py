"""ecs: well-known keys move to ECS fields; nothing is lost, the operator's settings win."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines import Pipeline, PipelineContext, tags
from pipelines.ecs import Ecs, EcsConfig, split_exception
from pipelines.errors import PipelineConfigError
from pipelines.levels import LevelNormaliser

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/shop/payments.py", line 88, in charge\n'
    "    resp = client.post(url)\n"
    "TimeoutError: upstream timed out after 3s"
)


def ecs(app: dict[str, Any], config: EcsConfig | None = None, **context: Any) -> dict[str, Any]:
    stage = Ecs(config, PipelineContext(**context))
    return stage({"app": app, "log": {"file": {"path": "/x"}, "offset": 0}})


def test_python_json_logger_record() -> None:
    event = ecs(
        {
            "levelname": "WARNING",
            "name": "shop.web",
            "message": "slow",
            "filename": "views.py",
            "funcName": "handle",
            "lineno": 87,
            "process": 4242,
            "processName": "MainProcess",
            "thread": 140528895302528,
            "threadName": "MainThread",
            "taskName": "Task-7",
            "order_id": "A-1",
        }
    )
    assert event["message"] == "slow"
    assert event["log"] == {
        "file": {"path": "/x"},
        "offset": 0,
        "level": "warning",
        "logger": "shop.web",
        "origin": {"file": {"name": "views.py", "line": 87}, "function": "handle"},
    }
    assert event["process"] == {
        "pid": 4242,
        "name": "MainProcess",
        "thread": {"id": 140528895302528, "name": "MainThread"},
    }
    assert event["labels"] == {"task_name": "Task-7"}
    assert event["app"] == {"order_id": "A-1"}


def test_request_fields_and_type_conversion() -> None:
    event = ecs(
        {
            "method": "GET",
            "path": "/api/orders?page=2",
            "status": "404",
            "user_id": 42,
            "env": "staging",
            "client_ip": "10.0.0.1",
        }
    )
    assert event["http"] == {"request": {"method": "GET"}, "response": {"status_code": 404}}
    assert event["url"] == {"path": "/api/orders", "query": "page=2"}
    assert event["user"] == {"id": "42"}
    assert event["service"]["environment"] == "staging"
    assert event["client"] == {"address": "10.0.0.1"}
    assert "app" not in event


def test_non_numeric_status_stays_and_is_tagged() -> None:
    event = ecs({"status": "ok"})
    assert event["app"] == {"status": "ok"}
    assert event["tags"] == [tags.STATUS_INVALID]
    assert "http" not in event


def test_objects_do_not_go_to_keyword_fields() -> None:
    event = ecs({"user": {"id": 1, "email": "x"}, "message": ["a"]})
    assert event["app"] == {"user": {"id": 1, "email": "x"}, "message": ["a"]}


def test_first_key_wins_and_the_other_stays() -> None:
    event = ecs({"level": "info", "levelname": "ERROR"})
    assert event["log"]["level"] == "info"
    assert event["app"] == {"levelname": "ERROR"}


def test_configured_service_and_host_win_over_the_line() -> None:
    event = ecs(
        {"service": "from-line", "host": "example.com:8080", "env": "dev"},
        service_name="checkout",
        service_environment="production",
        host_name="pod-1",
        agent_version="1.2.3",
    )
    assert event["service"] == {"name": "checkout", "environment": "production"}
    assert event["host"] == {"name": "pod-1"}
    assert event["app"] == {"service": "from-line", "host": "example.com:8080", "env": "dev"}
    assert event["agent"] == {"type": "logferry", "version": "1.2.3", "name": "pod-1"}
    assert event["ecs"] == {"version": "9.4.0"}


def test_line_service_used_when_not_configured() -> None:
    event = ecs({"service": "billing", "hostname": "h1"})
    assert event["service"] == {"name": "billing"}
    assert event["host"] == {"name": "h1"}
    assert event["agent"]["name"] == "logferry"


def test_every_event_owns_its_objects() -> None:
    stage = Ecs(None, PipelineContext(service_name="s", host_name="h"))
    first = stage({})
    second = stage({})
    first["service"]["name"] = "changed"
    first["agent"]["name"] = "changed"
    assert second["service"]["name"] == "s"
    assert second["agent"]["name"] == "h"


def test_exc_info_fills_error_fields() -> None:
    event = ecs({"exc_info": TRACEBACK, "message": "payment failed"})
    assert event["error"] == {
        "stack_trace": TRACEBACK,
        "type": "TimeoutError",
        "message": "upstream timed out after 3s",
    }
    assert event["message"] == "payment failed"


def test_explicit_error_fields_win_over_the_trace() -> None:
    event = ecs({"error": "card declined", "exc_type": "PaymentError", "exc_info": TRACEBACK})
    assert event["error"]["message"] == "card declined"
    assert event["error"]["type"] == "PaymentError"
    assert event["error"]["stack_trace"] == TRACEBACK


def test_single_line_exception() -> None:
    assert ecs({"exception": "ValueError: bad input"})["error"] == {
        "type": "ValueError",
        "message": "bad input",
    }
    assert ecs({"exception": "connection refused"})["error"] == {"message": "connection refused"}


def test_java_trace_takes_the_first_line() -> None:
    trace = "java.lang.IllegalStateException: boom\n\tat com.x.Y.z(Y.java:1)"
    assert split_exception(trace) == ("java.lang.IllegalStateException", "boom")


def test_ecs_named_keys_map_to_themselves() -> None:
    event = ecs({"log.level": "ERROR", "trace.id": "abc", "http.response.status_code": "500"})
    assert event["log"]["level"] == "error"
    assert event["trace"] == {"id": "abc"}
    assert event["http"]["response"]["status_code"] == 500


def test_user_mapping_overrides_and_unmaps() -> None:
    config = EcsConfig(mapping={"customer": "user.id", "host": None, "tenant": "labels.tenant"})
    event = ecs({"customer": "c-9", "host": "example.com", "tenant": 7}, config)
    assert event["user"] == {"id": "c-9"}
    assert event["labels"] == {"tenant": "7"}
    assert event["app"] == {"host": "example.com"}


def test_custom_target_outside_ecs_takes_scalars() -> None:
    event = ecs(
        {"order": 5, "cart": {"n": 1}},
        EcsConfig(mapping={"order": "shop.order", "cart": "shop.cart"}),
    )
    assert event["shop"] == {"order": 5}
    assert event["app"] == {"cart": {"n": 1}}


def test_a_non_object_in_the_way_keeps_the_value() -> None:
    stage = Ecs(None, PipelineContext())
    event = stage({"log": "oops", "app": {"levelname": "INFO"}})
    assert event["log"] == "oops"
    assert event["app"] == {"levelname": "INFO"}


def test_none_values_stay() -> None:
    assert ecs({"taskName": None})["app"] == {"taskName": None}


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("WARN", "warning"),
        ("Warning", "warning"),
        ("err", "error"),
        ("FATAL", "critical"),
        ("crit", "critical"),
        ("INFO ", "info"),
        (40, "error"),
        ("20", "info"),
        ("custom", "custom"),
        (True, None),
        ("", None),
        ({"a": 1}, None),
    ],
)
def test_levels(raw: object, level: str | None) -> None:
    assert LevelNormaliser()(raw) == level


def test_a_float_level_does_not_answer_for_the_int() -> None:
    normalise = LevelNormaliser()
    assert normalise(40.0) is None  # not a level number (type, not value, decides)
    assert normalise(40) == "error"  # nor does the float's answer stick to the equal int
    assert normalise(40.0) is None


def test_level_aliases_are_configurable() -> None:
    assert (
        ecs({"level": "Verbose"}, EcsConfig(level_aliases={"verbose": "debug"}))["log"]["level"]
        == "debug"
    )


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        ({"t": "@timestamp"}, "own stage"),
        ({"t": "tags"}, "own stage"),
        ({"t": "http.request"}, "ECS object"),
        ({"t": "a..b"}, "dotted field path"),
    ],
)
def test_bad_mapping_targets(mapping: dict[str, str], fragment: str) -> None:
    with pytest.raises(PipelineConfigError, match=rf"pipeline\[0\]\.mapping: .*{fragment}"):
        Pipeline.from_config([{"type": "ecs", "mapping": mapping}])


def test_mapping_into_the_app_namespace_is_refused() -> None:
    with pytest.raises(
        PipelineConfigError, match=r"^pipeline\[1\]\.mapping: 'x' points into the app namespace"
    ):
        Pipeline.from_config([{"type": "parse"}, {"type": "ecs", "mapping": {"x": "app.y"}}])
