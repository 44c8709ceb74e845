"""`loadtest demo alerts`: the alerts a demo proved, shown again from its ``report.json``.

The demo's alerts fire in the run's own Prometheus (windows shortened, see `--profile`), which
exits with the run; the stack's Prometheus evaluates the rules as written, where the same
incident is still pending. So the record of what fired, when and where it was delivered is the
run's report, and this prints it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtest.demo.config import DemoConfig
from loadtest.errors import LoadTestError

__all__ = ["last_report", "show_alerts"]


def last_report(config: DemoConfig) -> Path:
    """``report.json`` of the newest demo run under the state dir."""
    # Run directories are named by their start time (YYYYmmdd-HHMMSS): the last sorts last.
    reports = sorted(config.demo_dir.glob("*/report/report.json"))
    if not reports:
        raise LoadTestError(
            f"no demo run under {config.demo_dir} has a report yet: run `loadtest demo` "
            "(or `make demo`) first, or pass the --state-dir it used"
        )
    return reports[-1]


def show_alerts(report_path: Path, console: Console) -> None:
    """Print when each alert of the run became pending, fired and was delivered, and the checks."""
    try:
        report: dict[str, Any] = json.loads(report_path.read_text())
    except (OSError, ValueError) as exc:
        raise LoadTestError(f"cannot read the demo's report {report_path}: {exc}") from exc
    origin = report.get("incident_at") or report.get("started_at")
    since = "the incident began" if report.get("incident_at") else "the load began"
    console.print(
        f"alerts of demo run {report_path.parent.parent.name}: scenario {report.get('scenario')}, "
        f"evaluated by the run's own Prometheus (profile {report.get('profile')})"
    )
    table = Table(title=f"seconds after {since} ({_clock(origin)})", title_justify="left")
    for column in ("alert", "pending", "firing", "delivered", "receiver"):
        table.add_column(column)
    for alert in report.get("alerts", []):
        table.add_row(
            str(alert.get("name")),
            *(_seconds(alert.get(key)) for key in ("pending_after_s", "firing_after_s")),
            _seconds(alert.get("delivered_after_s")),
            alert.get("delivered_to")
            or ("inhibited" if alert.get("inhibited_after_s") is not None else "-"),
        )
    if not report.get("alerts"):
        table.add_row("(none became pending)", "-", "-", "-", "-")
    console.print(table)
    for check in report.get("checks", []):
        mark = "[green]PASS[/]" if check.get("passed") else "[red]FAIL[/]"
        console.print(f"{mark} {check.get('name')}: {check.get('detail')}")
    console.print(f"report: {report_path}")


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def _clock(epoch: Any) -> str:
    if not isinstance(epoch, int | float):
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")
