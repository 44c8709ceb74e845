"""Application metrics derived from log events — the pure part.

:class:`MetricsExtractor` turns one finished event into the observations for

* ``app_log_events_total{service,level}`` — every event;
* ``app_http_requests_total{service,method,status_class}`` — events with an HTTP status
  (``http.response.status_code``): a *response* was logged. A "request started" line without a
  status is not counted, or every request would count twice;
* ``app_http_request_duration_seconds{service,method,status_class}`` — those of them that also
  have ``event.duration``; buckets :data:`HTTP_DURATION_BUCKETS_S`.

The runtime owns the prometheus-client objects (see :data:`METRICS` for names, help, labels and
buckets) and feeds them. Every label value is bounded: methods outside the standard nine are
``OTHER``, status classes are ``1xx``…``5xx`` or ``unknown``, levels outside the known ones are
``other``, and after ``max_services`` distinct services further ones are ``other``. The status
class is computed here, not stored in the event: ECS has no field for it and Kibana can filter
on the status code itself.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

from pipelines.levels import KNOWN_LEVELS

__all__ = [
    "HTTP_DURATION_BUCKETS_S",
    "KNOWN_METHODS",
    "METRICS",
    "BucketCounts",
    "EventLabels",
    "HttpObservation",
    "MetricSpec",
    "MetricsExtractor",
    "MetricsTally",
    "Observation",
    "RequestLabels",
    "status_class",
]

HTTP_DURATION_BUCKETS_S: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""1 ms to 30 s: fast API calls to slow report endpoints; 0.1/0.25/0.5/1 s are the usual SLO
thresholds and are exact bucket bounds so alert rules need no interpolation there."""

KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
_STATUS_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx")
# The usual spellings and their label, so most events skip .upper().
_METHOD_LABELS: Final = {**{m: m for m in KNOWN_METHODS}, **{m.lower(): m for m in KNOWN_METHODS}}


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What the runtime needs to register one metric with prometheus-client."""

    name: str
    kind: Literal["counter", "histogram"]
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


APP_LOG_EVENTS: Final = MetricSpec(
    "app_log_events_total",
    "counter",
    "Log events of the application, by level.",
    ("service", "level"),
)
APP_HTTP_REQUESTS: Final = MetricSpec(
    "app_http_requests_total",
    "counter",
    "HTTP requests the application logged a response for.",
    ("service", "method", "status_class"),
)
APP_HTTP_REQUEST_DURATION: Final = MetricSpec(
    "app_http_request_duration_seconds",
    "histogram",
    "Duration of the HTTP requests the application logged, from its own duration field.",
    ("service", "method", "status_class"),
    HTTP_DURATION_BUCKETS_S,
)
METRICS: Final = (APP_LOG_EVENTS, APP_HTTP_REQUESTS, APP_HTTP_REQUEST_DURATION)


class HttpObservation(NamedTuple):  # a tuple: built per event, a frozen dataclass costs 5x
    """One logged HTTP response: count it; observe ``duration_s`` if there is one."""

    method: str
    status_class: str
    duration_s: float | None


class Observation(NamedTuple):
    """Everything one event contributes to the application metrics."""

    service: str
    level: str
    http: HttpObservation | None


RequestLabels = tuple[str, str, str]
"""(service, method, status_class)"""

EventLabels = tuple[str, str, str | None, str, float | None]
"""(service, level, method, status_class, duration_s): an :class:`Observation` flat, with
``method`` ``None`` when the event logged no HTTP response."""


class BucketCounts:
    """Observations of one histogram series, counted per bucket (not cumulative; the last
    count is +Inf's) with their sum: a batch's worth, applied to the runtime's histogram at once."""

    __slots__ = ("counts", "total")

    def __init__(self, bounds: int = len(HTTP_DURATION_BUCKETS_S)) -> None:
        self.counts = [0] * (bounds + 1)
        self.total = 0.0

    def add(self, value: float, bounds: tuple[float, ...] = HTTP_DURATION_BUCKETS_S) -> None:
        """Count *value* in the first bucket whose upper bound it does not exceed (``le``)."""
        self.counts[bisect_left(bounds, value)] += 1
        self.total += value


class MetricsTally:
    """What a batch of events adds to the application metrics, in plain dicts: the runtime
    applies it once per batch (a prometheus-client call per event costs about a microsecond)."""

    __slots__ = ("durations", "levels", "requests")

    def __init__(self) -> None:
        self.levels: dict[tuple[str, str], int] = {}
        self.requests: dict[RequestLabels, int] = {}
        self.durations: dict[RequestLabels, BucketCounts] = {}

    def add(self, seen: Observation) -> None:
        """Count one event's observations."""
        http = seen.http
        if http is None:
            self.count((seen.service, seen.level, None, "", None))
        else:
            self.count((seen.service, seen.level, http.method, http.status_class, http.duration_s))

    def count(self, labels: EventLabels) -> None:
        """Count one event's :meth:`MetricsExtractor.labels` (the runtime's per-event path)."""
        service, level, method, status_label, duration_s = labels
        key = (service, level)
        self.levels[key] = self.levels.get(key, 0) + 1
        if method is None:
            return
        request = (service, method, status_label)
        self.requests[request] = self.requests.get(request, 0) + 1
        if duration_s is not None:
            buckets = self.durations.get(request)
            if buckets is None:
                buckets = self.durations[request] = BucketCounts()
            buckets.add(duration_s)


def status_class(status: object) -> str:
    """``503`` → ``"5xx"``; anything not an int 100-599 → ``"unknown"``."""
    if type(status) is int and 100 <= status <= 599:
        return _STATUS_CLASSES[status // 100 - 1]
    return "unknown"


class MetricsExtractor:
    """Event → :class:`Observation`, with every label value bounded."""

    __slots__ = ("_default_service", "_max_services", "_services")

    def __init__(self, default_service: str = "unknown", max_services: int = 20) -> None:
        self._default_service = default_service
        self._max_services = max_services
        self._services: set[str] = set()

    def __call__(self, event: Mapping[str, Any]) -> Observation:
        """The observations for ``event`` (call it on the event the pipeline returned)."""
        service, level, method, status_label, duration_s = self.labels(event)
        if method is None:
            return Observation(service, level, None)
        return Observation(service, level, HttpObservation(method, status_label, duration_s))

    def labels(self, event: Mapping[str, Any]) -> EventLabels:
        """:meth:`__call__` as a plain tuple, for :meth:`MetricsTally.count`: the runtime's
        per-event path, where building the two named tuples cost as much as the rest."""
        # Written out (status_class() inlined too): this runs for every event.
        node = event.get("service")
        name = node.get("name") if type(node) is dict else None
        service = name if type(name) is str and name in self._services else self._service(name)
        node = event.get("log")
        level = node.get("level") if type(node) is dict else None
        level_label = level if level in KNOWN_LEVELS else "other"
        http = event.get("http")
        if type(http) is not dict:
            return (service, level_label, None, "", None)
        response = http.get("response")
        status = response.get("status_code") if type(response) is dict else None
        if status is None:
            return (service, level_label, None, "", None)
        request = http.get("request")
        method = request.get("method") if type(request) is dict else None
        if type(method) is str:
            method_label = _METHOD_LABELS.get(method)
            if method_label is None:
                method_label = method.upper()
                if method_label not in KNOWN_METHODS:
                    method_label = "OTHER"
        else:
            method_label = "OTHER"
        node = event.get("event")
        duration = node.get("duration") if type(node) is dict else None
        duration_s = duration / 1e9 if type(duration) is int and duration >= 0 else None
        if type(status) is int and 100 <= status <= 599:
            status_label = _STATUS_CLASSES[status // 100 - 1]
        else:
            status_label = "unknown"
        return (service, level_label, method_label, status_label, duration_s)

    def _service(self, name: Any) -> str:
        if type(name) is not str or not name:
            return self._default_service
        if name in self._services:
            return name
        if len(self._services) >= self._max_services or len(name) > 64:
            return "other"  # services from lines are unbounded; Prometheus series must not be
        self._services.add(name)
        return name
