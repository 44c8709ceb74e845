"""report.html's parts that need no browser: an alert's threshold read from its expr, Locust's
history as series, and the page's verdict and charts (tests/integration/loadtest opens a real
run's page in Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.harness.alerts import AlertSeen
from loadtest.harness.report import RunReport
from loadtest.harness.rules import alert_exprs, split_threshold
from loadtest.harness.series import (
    AlertCurve,
    LocustHistory,
    RunSeries,
    Series,
    read_locust_history,
)
from loadtest.harness.verdict import Check
from loadtest.scenarios.catalog import ERROR_SPIKE
from shipper.resources import ALERT_RULES


@pytest.mark.parametrize(
    ("expr", "split"),
    [
        ("rate(x[5m]) > 0.05", ("rate(x[5m])", ">", 0.05)),
        ("sum(a)\n  /\nsum(b)\n  > 5\n", ("sum(a)\n  /\nsum(b)", ">", 5.0)),
        ('up{job="shipper"} == 0', ('up{job="shipper"}', "==", 0.0)),
        ('x{path=~"a>b"} >= bool 1e3', ('x{path=~"a>b"}', ">=", 1000.0)),
        ("a == 0 or b == 0", None),  # two comparisons: no one threshold
        ("(x > 5)", None),
        ("absent(up)", None),
    ],
)
def test_split_threshold(expr: str, split: tuple[str, str, float] | None) -> None:
    assert split_threshold(expr) == split


def test_every_application_alert_has_a_threshold_to_draw() -> None:
    exprs = alert_exprs(ALERT_RULES.read_text())
    assert {name: split_threshold(exprs[name])[1:] for name in ERROR_SPIKE.expect_firing} == {  # type: ignore[index]
        "AppHighErrorRatio": (">", 0.05),
        "AppErrorLogBurst": (">", 5.0),
    }


def test_locust_history_gives_rate_failed_share_and_p95(tmp_path: Path) -> None:
    history = tmp_path / "locust_stats_history.csv"
    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,Total Request Count\n"
    history.write_text(
        header
        + "100,0,,Aggregated,0.000000,0.000000,N/A,N/A,0\n"
        + "101,5,GET,/orders,8.000000,2.000000,10,40,8\n"  # per-request rows are not the total
        + "101,5,,Aggregated,20.000000,5.000000,12,250,20\n"
    )
    locust = read_locust_history(history)
    assert locust.requests_per_s == Series("requests/s", (100.0, 101.0), (0.0, 20.0))
    assert locust.error_ratio.values == (None, 0.25)
    assert locust.p95_ms.values == (None, 250.0)


def _report(passed: bool) -> RunReport:
    return RunReport(
        scenario="error-spike",
        run_id="lt-test",
        profile="fast",
        duration_s=90.0,
        users=20,
        spawn_rate=10.0,
        started_at=1000.0,
        incident_at=1027.0,
        alerts=[AlertSeen("AppHighErrorRatio", pending_at=1035.0, firing_at=1043.0)],
        checks=[
            Check("AppHighErrorRatio fires", True, "firing after 16.0 s"),
            Check("AppHighLatencyP95 stays quiet", passed, "fired after 30.0 s <script>"),
        ],
        requests=None,
        locust_requests=1234,
        locust_failures=321,
    )


def _series() -> RunSeries:
    times = tuple(1000.0 + t for t in range(0, 91, 10))
    ratio = Series(
        "AppHighErrorRatio (service=shop)", times, (0.0, 0.01, 0.0, 0.3, 0.4) + (None,) * 5
    )
    return RunSeries(
        alerts=[
            AlertCurve("AppHighErrorRatio", "must fire", "sum(a) / sum(b)", ">", 0.05, (ratio,))
        ],
        locust=LocustHistory(*(Series(n, times, (1.0,) * 10) for n in ("r", "e", "p"))),
        pipeline_rates=[Series("shipper: events published/s", times, (5.0,) * 10)],
        indexer_lag=[],
        problems=["'sum(lag)': no data"],
    )


def test_page_has_the_verdict_the_charts_and_plotly_once() -> None:
    from loadtest.harness.page import render_page

    page = render_page(_report(passed=False), _series(), ERROR_SPIKE.timeline(90.0))
    assert "<title>loadtest error-spike lt-test: failed</title>" in page
    assert '<span class="failed">FAILED</span>' in page
    assert '<td class="fail">FAIL</td><td>AppHighLatencyP95 stays quiet</td>' in page
    assert "&lt;script&gt;" in page  # a check's text is escaped, never markup
    assert page.count("Plotly.newPlot(") == 6  # 1 alert, 3 of Locust, 2 of the pipeline
    assert page.count("plotly.js v") == 1  # inlined once for every chart

    assert "no data" in page and "sum(lag)" in page


def test_charts_draw_each_alert_against_its_threshold_in_the_phases() -> None:
    from loadtest.harness.page import charts

    drawn = charts(_report(passed=True), _series(), ERROR_SPIKE.timeline(90.0))
    assert [(c.title, len(c.figure.data)) for c in drawn] == [
        ("AppHighErrorRatio (must fire)", 2),
        ("Requests per second", 1),
        ("Share of requests failed", 1),
        ("p95 response time, last 10 s", 1),
        ("Events per second", 1),
        ("Indexer consumer lag", 0),
    ]
    alert = drawn[0].figure
    assert [trace.name for trace in alert.data] == [
        "AppHighErrorRatio (service=shop)",
        "threshold: fires when > 0.05",
    ]
    assert alert.data[0].x[:2] == (0.0, 10.0)  # seconds since the load started
    assert set(alert.data[1].y) == {0.05}
    phases = [s for s in alert.layout.shapes if s.type == "rect"]
    assert [(p.x0, p.x1) for p in phases] == [(0.0, 27.0), (27.0, 72.0), (72.0, 90.0)]
    assert [p.fillcolor for p in phases].count(phases[1].fillcolor) == 1  # the incident stands out
    assert sorted(s.x0 for s in alert.layout.shapes if s.type == "line") == [35.0, 43.0]
    assert {a.text for a in alert.layout.annotations} >= {
        "pending",
        "firing",
        "incident",
    }
