"""route: daily index names from the event's service and UTC day; reserved patterns refused."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pipelines import Pipeline, PipelineContext, RouteConfig, Router
from pipelines.errors import PipelineConfigError
from pipelines.route import event_day, sanitize_index_part
from tests.unit.pipelines.support import NOW


def event(service: Any = "checkout", at: Any = "2024-05-01T23:59:59.999Z") -> dict[str, Any]:
    return {"@timestamp": at, "service": {"name": service}}


def test_default_pattern() -> None:
    assert Router().index_for(event()) == "app-logs-checkout-2024.05.01"


def test_the_day_is_the_utc_day() -> None:
    router = Router()
    assert router.index_for(event(at="2024-05-02T01:30:00+02:00")) == "app-logs-checkout-2024.05.01"
    assert router.index_for(event(at="2024-05-01T00:00:00.000Z")) == "app-logs-checkout-2024.05.01"


@pytest.mark.parametrize(
    ("service", "safe"),
    [
        ("Checkout", "checkout"),
        ("my svc/api", "my-svc-api"),
        ('a\\b*c?d"e<f>g|h,i#j:k', "a-b-c-d-e-f-g-h-i-j-k"),
        ("_hidden", "hidden"),
        ("-x-", "x"),
        ("", "unknown"),
        ("...", "unknown"),
        ("x" * 300, "x" * 100),
    ],
)
def test_service_is_sanitised(service: str, safe: str) -> None:
    assert sanitize_index_part(service) == safe
    assert Router().index_for(event(service)) == f"app-logs-{safe}-2024.05.01"


def test_missing_service_and_time() -> None:
    router = Router(now=lambda: NOW)
    assert router.index_for({}) == "app-logs-unknown-2024.05.01"
    assert (
        router.index_for({"service": {"name": 5}, "@timestamp": "nonsense"})
        == "app-logs-unknown-2024.05.01"
    )
    created = {"event": {"created": "2023-01-02T00:00:00.000Z"}}
    assert router.index_for(created) == "app-logs-unknown-2023.01.02"


@pytest.mark.parametrize("service", [["a", "list"], {"a": "dict"}, None, 5])
def test_a_service_name_that_is_no_string_is_the_default_service(service: Any) -> None:
    assert Router().index_for(event(service)) == "app-logs-unknown-2024.05.01"


def test_index_for_day_is_index_for_with_service_and_day_given_apart() -> None:
    router = Router()
    assert router.index_for_day("My Svc", "2024-05-01") == router.index_for(event("My Svc"))
    assert router.index_for_day(None, "2024-05-01") == "app-logs-unknown-2024.05.01"
    assert event_day(event(at="2024-05-02T01:30:00+02:00")) == "2024-05-01"
    assert event_day({"event": {"created": "2023-01-02T00:00:00.000Z"}}) == "2023-01-02"
    assert event_day({"@timestamp": "nonsense"}) is None


def test_custom_pattern_and_date_format() -> None:
    router = Router(
        RouteConfig(
            index_pattern="{date}-{service}-logs", date_format="%Y-%m-%d", default_service="none"
        )
    )
    assert router.index_for(event()) == "2024-05-01-checkout-logs"
    assert router.index_glob == "*-*-logs"
    assert router.date_of_index("2024-05-01-checkout-logs") == date(2024, 5, 1)


def test_retention_helpers() -> None:
    router = Router()
    assert router.index_glob == "app-logs-*-*"
    assert router.date_of_index("app-logs-my-svc-2024.05.01") == date(2024, 5, 1)
    assert router.date_of_index("app-logs-x-2024.13.01") is None
    assert router.date_of_index("other-2024.05.01") is None


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("logs-{service}-{date}", "logs-\\*-\\*"),
        ("logs-app-{date}", "logs-\\*-\\*"),
        ("metrics-{service}-{date}", "metrics-\\*-\\*"),
        ("app-{service}", "needs \\{date\\}"),
        ("App-{service}-{date}", "lower case"),
        ("app {service}-{date}", "lower case"),
        ("{service}-{date}", "start with"),
        (".app-{service}-{date}", "start with"),
        ("app-{svc}-{date}", "unknown placeholder"),
        ("app-{service-{date}", "not a valid pattern"),
    ],
)
def test_refused_patterns(pattern: str, fragment: str) -> None:
    with pytest.raises(PipelineConfigError, match=rf"pipeline\[0\]\.index_pattern: .*{fragment}"):
        Pipeline.from_config([{"type": "route", "index_pattern": pattern}])


@pytest.mark.parametrize("date_format", ["%Y.%m", "%b %Y.%m.%d", "%Y/%m/%d"])
def test_refused_date_formats(date_format: str) -> None:
    with pytest.raises(PipelineConfigError, match=r"pipeline\[0\]\.date_format"):
        Pipeline.from_config([{"type": "route", "date_format": date_format}])


def test_the_pipeline_exposes_its_router() -> None:
    pipeline = Pipeline.from_config(
        [{"type": "route", "index_pattern": "svc-{service}-{date}"}],
        PipelineContext(now=lambda: NOW),
    )
    assert pipeline.index_for(event()) == "svc-checkout-2024.05.01"
