"""The run's report: a table on the terminal and ``report.json`` beside Locust's own files."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtest.harness.alerts import AlertSeen
from loadtest.harness.delivery import RequestMatch
from loadtest.harness.verdict import Check

__all__ = ["RunReport"]


@dataclass
class RunReport:
    """Everything a run found out."""

    scenario: str
    run_id: str
    profile: str
    duration_s: float
    users: int
    spawn_rate: float
    started_at: float
    incident_at: float | None
    alerts: list[AlertSeen]
    checks: list[Check]
    requests: RequestMatch | None
    locust_requests: int
    locust_failures: int
    endpoints: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return all(check.passed for check in self.checks)

    @property
    def origin(self) -> float:
        """Time to fire counts from the incident's start, or from the load's without one."""
        return self.incident_at if self.incident_at is not None else self.started_at

    def _after(self, at: float | None) -> float | None:
        return None if at is None else round(at - self.origin, 1)

    def as_json(self) -> dict[str, Any]:
        """The report as written to ``report.json``."""
        return {
            "scenario": self.scenario,
            "run_id": self.run_id,
            "passed": self.passed,
            "profile": self.profile,
            "duration_s": self.duration_s,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "started_at": self.started_at,
            "incident_at": self.incident_at,
            "checks": [asdict(check) for check in self.checks],
            "alerts": [
                {
                    "name": seen.name,
                    "pending_after_s": self._after(seen.pending_at),
                    "firing_after_s": self._after(seen.firing_at),
                    "delivered_after_s": self._after(seen.delivered_at),
                    "delivered_to": seen.delivered_to,
                    "inhibited_after_s": self._after(seen.inhibited_at),
                    "labels": seen.labels,
                }
                for seen in self.alerts
            ],
            "requests": asdict(self.requests) if self.requests else None,
            "locust": {"requests": self.locust_requests, "failures": self.locust_failures},
            "endpoints": self.endpoints,
            "files": self.files,
        }

    def write(self, directory: Path) -> Path:
        """Write ``report.json`` into *directory*; its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "report.json"
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")
        return path

    def show(self, console: Console) -> None:
        """Print the alert timings and the checks."""
        origin = "incident start" if self.incident_at is not None else "load start"
        alerts = Table(title=f"alerts (seconds after the {origin})", title_justify="left")
        for column in ("alert", "pending", "firing", "delivered", "receiver"):
            alerts.add_column(column)
        for seen in self.alerts:
            alerts.add_row(
                seen.name,
                *(
                    _seconds(self._after(at))
                    for at in (seen.pending_at, seen.firing_at, seen.delivered_at)
                ),
                seen.delivered_to or ("inhibited" if seen.inhibited_at else "-"),
            )
        if not self.alerts:
            alerts.add_row("(none became pending)", "-", "-", "-", "-")
        console.print(alerts)
        checks = Table(title=f"scenario {self.scenario}: expectations", title_justify="left")
        checks.add_column("")
        checks.add_column("expectation")
        checks.add_column("seen")
        for check in self.checks:
            checks.add_row(
                "[green]PASS[/]" if check.passed else "[red]FAIL[/]", check.name, check.detail
            )
        console.print(checks)
        verdict = "[green]passed[/]" if self.passed else "[red]FAILED[/]"
        console.print(
            f"{verdict}: {self.locust_requests} requests ({self.locust_failures} failed as HTTP "
            f"errors) in {self.duration_s:.0f} s; report in {self.files.get('report', '-')}"
        )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
