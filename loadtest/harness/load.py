"""Locust as a headless subprocess (its gevent must not meet our asyncio), and what it reports."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import loadtest.scenarios
from loadtest.harness.processes import ManagedProcess
from loadtest.scenarios.environment import LocustSettings
from loadtest.scenarios.spec import Scenario

__all__ = ["LoadProgress", "LocustRun", "LocustTotals", "locustfile"]

_STOP_TIMEOUT_S = 10  # users finish the request in flight, so every request made is recorded


def locustfile(scenario: Scenario) -> Path:
    """The locustfile of *scenario* (``error-spike`` → ``loadtest/scenarios/error_spike.py``)."""
    return Path(loadtest.scenarios.__file__).parent / f"{scenario.name.replace('-', '_')}.py"


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """The latest row of Locust's stats history."""

    users: int
    requests_per_s: float
    requests: int
    failures: int


@dataclass(frozen=True, slots=True)
class LocustTotals:
    """Locust's final count over all request names."""

    requests: int
    failures: int


class LocustRun:
    """One headless Locust run of a scenario, writing its CSV, HTML and JSON into *report*."""

    def __init__(
        self, scenario: Scenario, settings: LocustSettings, *, host: str, report: Path, log: Path
    ) -> None:
        self.report = report
        self.process = ManagedProcess(
            "locust",
            [
                sys.executable, "-m", "locust", "-f", str(locustfile(scenario)), "--headless",
                "--host", host, "--csv", str(report / "locust"), "--html", str(report / "locust.html"),
                "--json-file", str(report / "locust"), "--only-summary", "--exit-code-on-error", "0",
                # The history's percentiles are then the last 10 s's, not the whole run's so far.
                "--csv-full-history",
                "--stop-timeout", str(_STOP_TIMEOUT_S), "--loglevel", "WARNING",
            ],
            log,
            env=settings.to_env(),
        )  # fmt: skip

    async def start(self) -> None:
        """Start Locust, after removing a previous run's files from the report directory (the
        harness takes the history file's appearance as the start of the load)."""
        for stale in self.report.glob("locust*"):
            stale.unlink()
        await self.process.start()

    @property
    def history_file(self) -> Path:
        """Locust appends a row per second here (flushed every few seconds)."""
        return self.report / "locust_stats_history.csv"

    def progress(self) -> LoadProgress | None:
        """The latest aggregated stats row, if any was written yet."""
        try:
            with self.history_file.open(newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
        except OSError:
            return None
        if not rows:
            return None
        last = rows[-1]
        return LoadProgress(
            users=int(last["User Count"]),
            requests_per_s=float(last["Requests/s"] or 0),
            requests=int(last["Total Request Count"]),
            failures=int(last["Total Failure Count"]),
        )

    def totals(self) -> LocustTotals:
        """The final totals from Locust's JSON stats (one entry per request name)."""
        path = self.report / "locust.json"
        entries = json.loads(path.read_text()) if path.exists() else []
        return LocustTotals(
            requests=sum(int(entry["num_requests"]) for entry in entries),
            failures=sum(int(entry["num_failures"]) for entry in entries),
        )
