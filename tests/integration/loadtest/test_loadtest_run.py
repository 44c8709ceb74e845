"""`loadtest run` end to end: real demo app, shipper, indexer, Kafka, Elasticsearch, Prometheus
and Alertmanager, with Locust making the traffic. What a user checks: the exit code, the report
and the alert timings in it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.browser import open_page

_RUN_TIMEOUT_S = 280  # the bound is 3 minutes a scenario; leave room for a slow machine


def _loadtest(
    tmp_path: Path, kafka: str, elasticsearch: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "report"
    completed = subprocess.run(
        [
            sys.executable, "-m", "loadtest", "run", "--report", str(report),
            "--work-dir", str(tmp_path / "work"), "--kafka", kafka,
            "--elasticsearch", elasticsearch, *args,
        ],
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    report_file = report / "report.json"
    assert report_file.exists(), f"no report; output:\n{completed.stdout}\n{completed.stderr}"
    return completed, json.loads(report_file.read_text())


def _alert(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((alert for alert in report["alerts"] if alert["name"] == name), None)


def _failed_checks(report: dict[str, Any]) -> list[str]:
    return [f"{c['name']}: {c['detail']}" for c in report["checks"] if not c["passed"]]


def test_baseline_fires_nothing_and_every_request_is_searchable(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url, "--scenario", "baseline"
    )
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    assert report["passed"] is True
    assert [a["name"] for a in report["alerts"] if a["firing_after_s"] is not None] == []
    requests = report["requests"]
    assert requests["locust_requests"] > 500  # real load, not a handful
    assert requests["lines_found"] == requests["locust_requests"] == requests["ids_sent"]
    assert requests["missing_count"] == requests["duplicated_count"] == 0
    for name in ("locust.html", "locust_stats.csv", "report.json"):
        assert (tmp_path / "report" / name).exists()


def test_error_spike_fires_the_error_alerts_and_not_the_latency_one(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url, "--scenario", "error-spike"
    )
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    ratio = _alert(report, "AppHighErrorRatio")
    assert ratio is not None and ratio["firing_after_s"] is not None
    assert ratio["delivered_to"] == "pager"  # critical → the pager receiver of alertmanager.yml
    assert ratio["delivered_after_s"] >= ratio["firing_after_s"]
    latency = _alert(report, "AppHighLatencyP95")
    assert latency is None or latency["firing_after_s"] is None
    assert report["locust"]["failures"] > 0  # the incident really made requests fail
    assert report["requests"]["lines_found"] == report["locust"]["requests"]
    _check_page(tmp_path / "report")


# Once plotly has drawn every chart: each chart's title, its series (points with a value, and
# whether plotly drew the line) and its vertical markers (pending, firing).
_CHARTS_DRAWN = """(() => {
  const figures = [...document.querySelectorAll('figure.chart')];
  if (!figures.length || figures.some(f => !f.querySelector('.js-plotly-plot')?._fullLayout)) {
    return null;
  }
  return figures.map(f => {
    const plot = f.querySelector('.js-plotly-plot');
    return {
      title: f.dataset.title,
      series: plot.data.map(t => t.name),
      points: plot.data.map(t => t.y.filter(v => v !== null).length),
      drawn: [...plot.querySelectorAll('g.trace.scatter path.js-line')].length,
      markers: (plot.layout.shapes || []).filter(s => s.type === 'line').length,
    };
  });
})()"""


def _check_page(report_dir: Path) -> None:
    """report.html in headless Chromium: no console error, every chart drawn with its series."""
    page = report_dir / "report.html"
    visit = asyncio.run(open_page(page.as_uri(), _CHARTS_DRAWN))
    (report_dir / "report.png").write_bytes(visit.screenshot)  # for a human looking at a failure
    assert visit.errors == []
    charts = {chart["title"]: chart for chart in visit.value}
    assert list(charts) == [
        "AppHighErrorRatio (must fire)",
        "AppErrorLogBurst (must fire)",
        "AppHighLatencyP95 (must stay quiet)",
        "Requests per second",
        "Share of requests failed",
        "p95 response time, last 10 s",
        "Events per second",
        "Indexer consumer lag",
    ]
    expected_series = {
        "AppHighErrorRatio (must fire)": [
            "AppHighErrorRatio (service=shop)",
            "threshold: fires when > 0.05",
        ],
        "AppErrorLogBurst (must fire)": [
            "AppErrorLogBurst (service=shop)",
            "threshold: fires when > 5",
        ],
        "AppHighLatencyP95 (must stay quiet)": [
            "AppHighLatencyP95 (service=shop)",
            "threshold: fires when > 1",
        ],
        "Events per second": [
            "shipper: lines read/s",
            "shipper: events published/s",
            "indexer: documents indexed/s",
        ],
        "Indexer consumer lag": ["indexer: consumer lag (records)"],
    }
    for title, chart in charts.items():
        if title in expected_series:
            assert chart["series"] == expected_series[title], title
        assert chart["drawn"] == len(chart["series"]) >= 1, title
        # The run is 90 s at a point a second: every series has most of it (a threshold has 2).
        assert all(
            points >= (2 if name.startswith("threshold") else 30)
            for name, points in zip(chart["series"], chart["points"], strict=True)
        ), chart
    # Pending and firing are marked on the alerts that fired, and on no other.
    assert [chart["markers"] for chart in charts.values()] == [2, 2, 0, 0, 0, 0, 0, 0]


def test_a_wrong_expectation_fails_the_run_and_is_named(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url,
        "--scenario", "baseline", "--duration", "30s", "--expect-firing", "AppHighLatencyP95",
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout[-3000:]
    assert report["passed"] is False
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["AppHighLatencyP95 fires"]
    assert "never fired" in failed[0]["detail"]
    assert "AppHighLatencyP95 fires" in completed.stdout
    # Everything else still held: the failure is the expectation, not the run.
    assert report["requests"]["lines_found"] == report["locust"]["requests"]
