"""metrics: observations derived from events, with bounded label values."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines import (
    HTTP_DURATION_BUCKETS_S,
    METRICS,
    HttpObservation,
    MetricsExtractor,
    Observation,
)
from pipelines.metrics import MetricsTally, status_class


def request(
    method: Any = "GET", status: Any = 200, duration: Any = 12_500_000, level: Any = "info"
) -> dict[str, Any]:
    return {
        "service": {"name": "checkout"},
        "log": {"level": level},
        "http": {"request": {"method": method}, "response": {"status_code": status}},
        "event": {"duration": duration},
    }


def test_request() -> None:
    assert MetricsExtractor()(request()) == Observation(
        "checkout", "info", HttpObservation("GET", "2xx", 0.0125)
    )


def test_plain_log_event() -> None:
    assert MetricsExtractor()({"log": {"level": "warning"}}) == Observation(
        "unknown", "warning", None
    )


def test_request_without_status_is_not_counted() -> None:
    event = request()
    del event["http"]["response"]
    assert MetricsExtractor()(event).http is None


@pytest.mark.parametrize(
    ("method", "label"),
    [("get", "GET"), ("PATCH", "PATCH"), ("BREW", "OTHER"), (None, "OTHER"), (5, "OTHER")],
)
def test_methods_are_bounded(method: Any, label: str) -> None:
    http = MetricsExtractor()(request(method=method)).http
    assert http is not None and http.method == label


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (100, "1xx"),
        (204, "2xx"),
        (301, "3xx"),
        (404, "4xx"),
        (599, "5xx"),
        (600, "unknown"),
        (0, "unknown"),
        ("200", "unknown"),
    ],
)
def test_status_classes(status: Any, label: str) -> None:
    assert status_class(status) == label


@pytest.mark.parametrize(
    ("level", "label"),
    [("error", "error"), ("critical", "critical"), ("verbose", "other"), (None, "other")],
)
def test_levels_are_bounded(level: Any, label: str) -> None:
    assert MetricsExtractor()(request(level=level)).level == label


def test_duration_only_when_valid() -> None:
    for duration in (None, -5, "12"):
        http = MetricsExtractor()(request(duration=duration)).http
        assert http is not None and http.duration_s is None


def test_services_are_bounded() -> None:
    extract = MetricsExtractor(max_services=2)
    labels = [extract({"service": {"name": f"s{i}"}}).service for i in range(4)]
    assert labels == ["s0", "s1", "other", "other"]
    assert extract({"service": {"name": "s0"}}).service == "s0"


def test_specs() -> None:
    names = {spec.name: spec for spec in METRICS}
    assert set(names) == {
        "app_http_requests_total",
        "app_http_request_duration_seconds",
        "app_log_events_total",
    }
    assert names["app_http_request_duration_seconds"].buckets == HTTP_DURATION_BUCKETS_S
    assert names["app_http_requests_total"].labels == ("service", "method", "status_class")
    assert names["app_log_events_total"].labels == ("service", "level")
    assert list(HTTP_DURATION_BUCKETS_S) == sorted(HTTP_DURATION_BUCKETS_S)


def test_counting_labels_tallies_what_adding_observations_does() -> None:
    """The runtime counts :meth:`MetricsExtractor.labels` (no named tuples per event): the same
    tally as adding each :class:`Observation`."""
    events: list[dict[str, Any]] = [
        request(),
        request(method="post", status=503),
        request(method="BREW", status="x"),
        request(duration=-1),
        {"log": {"level": "warning"}},
        {"http": {"request": {"method": "GET"}}},
        {"service": {"name": "billing"}, "log": {"level": "nonsense"}},
        {},
    ]
    extractor = MetricsExtractor()
    added, counted = MetricsTally(), MetricsTally()
    for event in events * 3:
        added.add(extractor(event))
        counted.count(extractor.labels(event))
    assert counted.levels == added.levels and counted.levels
    assert counted.requests == added.requests and counted.requests
    assert {k: (v.counts, v.total) for k, v in counted.durations.items()} == {
        k: (v.counts, v.total) for k, v in added.durations.items()
    }
    assert counted.durations
