"""The run's story as one self-contained HTML page (``report.html``): the verdict, each watched
alert's expression against its threshold with its pending and firing moments, the load as
Locust saw it and the pipeline's throughput and lag, every chart with the scenario's phases.

Charts are plotly's; its JavaScript is inlined once, so the page opens offline, mailed or
archived as a CI artifact. Times on every x axis are seconds since the load started.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from loadtest.harness.alerts import AlertSeen
from loadtest.harness.report import RunReport
from loadtest.harness.series import AlertCurve, RunSeries, Series
from loadtest.scenarios.spec import TimedPhase

__all__ = ["Chart", "charts", "render_page", "write_page"]

_HEIGHT_PX = 300
_PHASE_FILL = "rgba(120, 120, 120, 0.08)"
_INCIDENT_FILL = "rgba(220, 50, 50, 0.10)"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 .passed { color: #1a7f37; } h1 .failed { color: #cf222e; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; }
td.pass { color: #1a7f37; font-weight: bold; } td.fail { color: #cf222e; font-weight: bold; }
figure.chart { margin: 0 0 1rem; } figcaption { font-size: 0.85rem; color: #555; }
code { font-size: 0.85rem; white-space: pre-wrap; }
"""


def write_page(
    directory: Path, report: RunReport, series: RunSeries, phases: Sequence[TimedPhase]
) -> Path:
    """Write ``report.html`` into *directory*; its path."""
    path = directory / "report.html"
    path.write_text(render_page(report, series, phases), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Chart:
    """One chart of the page: its heading, the line under it, the figure."""

    section: str
    title: str
    caption: str
    figure: go.Figure


def charts(report: RunReport, series: RunSeries, phases: Sequence[TimedPhase]) -> list[Chart]:
    """Every chart of the page, in order."""
    start = report.started_at
    span = max([report.duration_s, *(_last(s) - start for s in _all_series(series))])
    draw = _Figures(start, (-1.0, span + 1.0), phases)
    seen = {alert.name: alert for alert in report.alerts}
    locust = series.locust
    return [
        *(
            Chart(
                "Alerts",
                f"{curve.name} ({curve.expectation})",
                f"plotted: <code>{_e(curve.query)}</code>",
                draw.alert(curve, seen.get(curve.name)),
            )
            for curve in series.alerts
        ),
        Chart(
            "Load (Locust)",
            "Requests per second",
            "",
            draw.lines([locust.requests_per_s], "requests/s"),
        ),
        Chart(
            "Load (Locust)",
            "Share of requests failed",
            "",
            draw.lines([locust.error_ratio], "ratio"),
        ),
        Chart(
            "Load (Locust)", "p95 response time, last 10 s", "", draw.lines([locust.p95_ms], "ms")
        ),
        Chart("Pipeline", "Events per second", "", draw.lines(series.pipeline_rates, "per second")),
        Chart("Pipeline", "Indexer consumer lag", "", draw.lines(series.indexer_lag, "records")),
    ]


def render_page(report: RunReport, series: RunSeries, phases: Sequence[TimedPhase]) -> str:
    """The whole page as text."""
    body: list[str] = []
    section = ""
    for number, chart in enumerate(charts(report, series, phases), 1):
        if chart.section != section:
            section = chart.section
            body.append(f"<h2>{_e(section)}</h2>")
            if section == "Alerts":
                body.append(_alerts_table(report))
        body.append(_chart_html(chart, number))
    verdict = "passed" if report.passed else "failed"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>loadtest {_e(report.scenario)} {_e(report.run_id)}: {verdict}</title>",
        f"<style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f'<h1>{_e(report.scenario)}: <span class="{verdict}">{verdict.upper()}</span></h1>',
        f"<p>{_e(_summary(report, phases))}</p>",
        "<h2>Verdict</h2>",
        _checks_table(report),
        *body,
    ]
    if series.problems:
        parts += [
            "<h2>Charts without data</h2><ul>",
            *(f"<li><code>{_e(p)}</code></li>" for p in series.problems),
            "</ul>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


class _Figures:
    """Figures on the run's clock, each with the phases shaded."""

    def __init__(
        self, start: float, x_range: tuple[float, float], phases: Sequence[TimedPhase]
    ) -> None:
        self.start = start
        self.x_range = x_range
        self.phases = phases

    def alert(self, curve: AlertCurve, seen: AlertSeen | None) -> go.Figure:
        figure = self._figure(curve.series, "value")
        if curve.threshold is not None:
            figure.add_trace(
                go.Scatter(
                    x=list(self.x_range),
                    y=[curve.threshold, curve.threshold],
                    mode="lines",
                    name=f"threshold: fires when {curve.comparison} {curve.threshold:g}",
                    line={"color": "#cf222e", "dash": "dash"},
                )
            )
        for label, at, colour in (
            ("pending", seen and seen.pending_at, "#bf8700"),
            ("firing", seen and seen.firing_at, "#cf222e"),
        ):
            if at:
                figure.add_vline(
                    x=at - self.start,
                    line={"color": colour, "width": 2},
                    annotation_text=label,  # the table above says when, from the incident
                    annotation_position="top left" if label == "pending" else "top right",
                )
        return figure

    def lines(self, series: Sequence[Series], unit: str) -> go.Figure:
        return self._figure(series, unit)

    def _figure(self, series: Sequence[Series], unit: str) -> go.Figure:
        figure = go.Figure(
            [
                go.Scatter(
                    x=[t - self.start for t in s.times], y=list(s.values), mode="lines", name=s.name
                )
                for s in series
            ]
        )
        for timed in self.phases:
            figure.add_vrect(
                x0=timed.start_s,
                x1=timed.end_s,
                fillcolor=_INCIDENT_FILL if timed.phase.incident else _PHASE_FILL,
                line_width=0,
                layer="below",
                annotation_text=timed.phase.name,
                annotation_position="bottom left",
            )
        if not series:
            figure.add_annotation(
                text="no data", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
            )
        figure.update_layout(
            height=_HEIGHT_PX,
            margin={"l": 60, "r": 20, "t": 30, "b": 40},
            template="plotly_white",
            showlegend=True,
            legend={"orientation": "h", "y": -0.25},
            xaxis={"title": "seconds since the load started", "range": list(self.x_range)},
            yaxis={"title": unit, "rangemode": "tozero"},
        )
        return figure


def _chart_html(chart: Chart, number: int) -> str:
    div = chart.figure.to_html(
        full_html=False,
        include_plotlyjs=False,  # once, in the page's head
        div_id=f"chart-{number}",
        config={"displaylogo": False, "responsive": True},
    )
    caption = f"<figcaption>{chart.caption}</figcaption>" if chart.caption else ""
    return (
        f'<figure class="chart" data-title="{_e(chart.title)}"><h3>{_e(chart.title)}</h3>'
        f"{div}{caption}</figure>"
    )


def _summary(report: RunReport, phases: Sequence[TimedPhase]) -> str:
    phase_text = ", ".join(
        f"{t.phase.name} {t.start_s:.0f}-{t.end_s:.0f} s"
        + (" (incident)" if t.phase.incident else "")
        for t in phases
    )
    return (
        f"run {report.run_id}, profile {report.profile}: {report.duration_s:.0f} s, "
        f"{report.users} users; {report.locust_requests} requests, {report.locust_failures} failed "
        f"as HTTP errors. Phases: {phase_text}. Shaded bands on every chart are the phases "
        "(red: the incident)."
    )


def _checks_table(report: RunReport) -> str:
    rows = "".join(
        f'<tr><td class="{"pass" if c.passed else "fail"}">{"PASS" if c.passed else "FAIL"}</td>'
        f"<td>{_e(c.name)}</td><td>{_e(c.detail)}</td></tr>"
        for c in report.checks
    )
    return f'<table id="verdict"><tr><th></th><th>expectation</th><th>seen</th></tr>{rows}</table>'


def _alerts_table(report: RunReport) -> str:
    origin = "incident start" if report.incident_at is not None else "load start"
    summary = report.as_json()["alerts"]
    rows = (
        "".join(
            f"<tr><td>{_e(a['name'])}</td>"
            + "".join(
                f"<td>{'-' if a[key] is None else a[key]}</td>"
                for key in ("pending_after_s", "firing_after_s", "delivered_after_s")
            )
            + f"<td>{_e(a['delivered_to'] or ('inhibited' if a['inhibited_after_s'] is not None else '-'))}</td></tr>"
            for a in summary
        )
        or '<tr><td colspan="5">none became pending</td></tr>'
    )
    return (
        f'<table id="alerts"><caption>seconds after the {origin}</caption><tr><th>alert</th>'
        f"<th>pending</th><th>firing</th><th>delivered</th><th>receiver</th></tr>{rows}</table>"
    )


def _all_series(series: RunSeries) -> list[Series]:
    locust = series.locust
    return [
        *(s for curve in series.alerts for s in curve.series),
        locust.requests_per_s,
        locust.error_ratio,
        locust.p95_ms,
        *series.pipeline_rates,
        *series.indexer_lag,
    ]


def _last(series: Series) -> float:
    return series.times[-1] if series.times else 0.0


def _e(text: str) -> str:
    return html.escape(text, quote=True)
