"""The run's time series for the HTML report: each watched alert's expression against its
threshold and the pipeline's own metrics (Prometheus's range API), the load as Locust saw it
(its per-second stats history)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from loadtest.harness.rules import split_threshold

__all__ = [
    "AlertCurve",
    "Expectation",
    "LocustHistory",
    "RunSeries",
    "Series",
    "WatchedAlert",
    "collect_series",
    "read_locust_history",
]

Expectation = Literal["must fire", "must stay quiet", "may fire", "fired unexpectedly"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: Unix times and their values (None where there was no value)."""

    name: str
    times: tuple[float, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class WatchedAlert:
    """An alert the report draws, with the expr its Prometheus evaluated."""

    name: str
    expr: str
    expectation: Expectation


@dataclass(frozen=True, slots=True)
class AlertCurve:
    """An alert's value over the run: the left side of its comparison, and the threshold."""

    name: str
    expectation: Expectation
    query: str
    comparison: str | None
    threshold: float | None
    series: tuple[Series, ...]


@dataclass(frozen=True, slots=True)
class LocustHistory:
    """Locust's view of the load, one point a second."""

    requests_per_s: Series
    error_ratio: Series
    p95_ms: Series


@dataclass
class RunSeries:
    """Everything the HTML report draws; *problems* says which query gave nothing, and why."""

    alerts: list[AlertCurve]
    locust: LocustHistory
    pipeline_rates: list[Series]
    indexer_lag: list[Series]
    problems: list[str] = field(default_factory=list)


def read_locust_history(path: Path) -> LocustHistory:
    """Requests/s, failure ratio and the current p95 of Locust's ``*_stats_history.csv``
    (aggregated rows; the p95 is the last 10 s's only with ``--csv-full-history``)."""
    times: list[float] = []
    rps: list[float | None] = []
    ratio: list[float | None] = []
    p95: list[float | None] = []
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
    except OSError:
        rows = []
    for row in rows:
        requests, failures = _number(row.get("Requests/s")), _number(row.get("Failures/s"))
        times.append(float(row["Timestamp"]))
        rps.append(requests)
        ratio.append(failures / requests if requests and failures is not None else None)
        p95.append(_number(row.get("95%")))
    return LocustHistory(
        Series("requests/s", tuple(times), tuple(rps)),
        Series("failed share", tuple(times), tuple(ratio)),
        Series("p95 (ms)", tuple(times), tuple(p95)),
    )


def _number(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:  # "N/A" before the first request
        return None
    return value if math.isfinite(value) else None


async def collect_series(
    http: aiohttp.ClientSession,
    prometheus: str,
    *,
    start: float,
    end: float,
    alerts: Sequence[WatchedAlert],
    shipper: str,
    indexer: str,
    scrape_s: float,
    locust_history: Path,
) -> RunSeries:
    """Query the run's Prometheus for every chart of the report; a failed query leaves its chart
    empty and is named in ``problems`` (the report is still written)."""
    # A rate needs several samples in its window; a thousand points a chart are plenty.
    window = f"{max(10, round(4 * scrape_s))}s"
    step = max(scrape_s, (end - start) / 1000)
    problems: list[str] = []

    async def query(expr: str, name: str | None = None) -> tuple[Series, ...]:
        try:
            result = await _query_range(http, prometheus, expr, start, end, step)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError) as exc:
            problems.append(f"{expr!r}: {type(exc).__name__}: {exc}")
            return ()
        if not result:
            problems.append(f"{expr!r}: no data")
        return tuple(_series(item, name) for item in result)

    curves = []
    for alert in alerts:
        split = split_threshold(alert.expr)
        plotted = split[0] if split else alert.expr
        curves.append(
            AlertCurve(
                alert.name,
                alert.expectation,
                plotted,
                split[1] if split else None,
                split[2] if split else None,
                await query(plotted, alert.name),
            )
        )
    rates = [
        (f'logferry_shipper_lines_read_total{{instance="{shipper}"}}', "shipper: lines read/s"),
        (
            f'logferry_shipper_events_published_total{{instance="{shipper}"}}',
            "shipper: events published/s",
        ),
        (
            f'logferry_indexer_documents_indexed_total{{instance="{indexer}"}}',
            "indexer: documents indexed/s",
        ),
    ]
    pipeline = [
        series
        for selector, name in rates
        for series in await query(f"sum(rate({selector}[{window}]))", name)
    ]
    lag = await query(
        f'sum(logferry_indexer_consumer_lag_records{{instance="{indexer}"}})',
        "indexer: consumer lag (records)",
    )
    return RunSeries(curves, read_locust_history(locust_history), pipeline, list(lag), problems)


async def _query_range(
    http: aiohttp.ClientSession, prometheus: str, expr: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"}
    async with http.get(f"{prometheus}/api/v1/query_range", params=params) as response:
        body: dict[str, Any] = await response.json(content_type=None)
    if body.get("status") != "success":
        raise ValueError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _series(item: Mapping[str, Any], name: str | None) -> Series:
    """A result of the range API as a series named *name* and its labels, if it has any."""
    values: Iterable[tuple[float, str]] = item.get("values", [])
    times, numbers = [], []
    for at, text in values:
        times.append(float(at))
        numbers.append(_number(text))
    labels = {k: v for k, v in item.get("metric", {}).items() if k != "__name__"}
    label = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    title = f"{name} ({label})" if name and label else name or label or "value"
    return Series(title, tuple(times), tuple(numbers))
