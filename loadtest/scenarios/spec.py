"""The shape of a scenario declaration: phases of traffic and faults, and the expected alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Fault", "Phase", "Scenario", "TimedPhase"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What the demo app does wrong on one route: fail a share of requests, answer slower."""

    error_rate: float = 0.0
    latency_ms: float = 0.0

    def as_json(self) -> dict[str, float]:
        """The body the demo app's ``PUT /admin/faults`` takes for one route."""
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms}


@dataclass(frozen=True, slots=True)
class Phase:
    """One stretch of a run: its share of the duration, of the peak users, and its faults."""

    name: str
    share: float
    users: float = 1.0
    faults: Mapping[str, Fault] = field(default_factory=lambda: MappingProxyType({}))
    incident: bool = False  # time to fire is measured from the start of the first incident phase


@dataclass(frozen=True, slots=True)
class TimedPhase:
    """A phase placed on a run's clock (seconds since the load started)."""

    start_s: float
    end_s: float
    phase: Phase


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named load test and what it must prove."""

    name: str
    summary: str
    phases: tuple[Phase, ...]
    expect_firing: tuple[str, ...] = ()
    """Alerts that must reach firing in Prometheus and be delivered by Alertmanager."""
    expect_quiet: tuple[str, ...] = ()
    """Alerts named as the point of the scenario that must not fire (any alert not expected or
    allowed must stay quiet too; these are reported by name)."""
    may_fire: tuple[str, ...] = ()
    """Alerts that may follow from the incident but are not what it proves."""
    duration_s: float = 90.0
    users: int = 20
    spawn_rate: float = 10.0
    extra_log_lines: int = 0
    """Extra lines the app writes per request (header ``X-Log-Extra-Lines``): a log flood."""
    incident: str | None = None
    """Trouble outside the app that the harness causes during the incident phase
    (``disk-fill``, ``cpu-burn``, ``es-flood-stage``: :mod:`loadtest.harness.incidents`)."""
    watches_host: bool = False
    """The run's Prometheus also scrapes the host's node exporter (job ``node``). Off for the
    others: a shared CI machine's load is not what they are about."""

    def __post_init__(self) -> None:
        total = sum(phase.share for phase in self.phases)
        if not self.phases or abs(total - 1.0) > 1e-6:
            raise ValueError(f"scenario {self.name}: phase shares must add up to 1, not {total}")
        clash = set(self.expect_firing) & (set(self.expect_quiet) | set(self.may_fire))
        if clash:
            raise ValueError(
                f"scenario {self.name}: expected both to fire and not: {sorted(clash)}"
            )

    def timeline(self, duration_s: float) -> list[TimedPhase]:
        """The phases laid out over a run of *duration_s* seconds."""
        timed: list[TimedPhase] = []
        start = 0.0
        for phase in self.phases:
            end = start + phase.share * duration_s
            timed.append(TimedPhase(start, end, phase))
            start = end
        return timed

    def phase_at(self, duration_s: float, elapsed_s: float) -> TimedPhase | None:
        """The phase running *elapsed_s* into the run; None once the run is over."""
        for timed in self.timeline(duration_s):
            if timed.start_s <= elapsed_s < timed.end_s:
                return timed
        return None

    def incident_start_s(self, duration_s: float) -> float | None:
        """When the first incident phase begins, if there is one."""
        for timed in self.timeline(duration_s):
            if timed.phase.incident:
                return timed.start_s
        return None
