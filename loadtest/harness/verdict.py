"""The verdict of a run: each expectation, held or not, with what was seen. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loadtest.harness.alerts import AlertLog, AlertSeen
from loadtest.harness.delivery import RequestMatch

__all__ = ["Check", "Expectations", "judge"]


@dataclass(frozen=True, slots=True)
class Expectations:
    """Which alerts must fire, which must stay quiet, which may fire; and the ones that exist."""

    firing: tuple[str, ...]
    quiet: tuple[str, ...]
    may_fire: tuple[str, ...]
    known: frozenset[str]


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation and whether it held."""

    name: str
    passed: bool
    detail: str


def _after(at: float | None, origin: float) -> str:
    return "never" if at is None else f"{at - origin:.1f} s"


def _fired(name: str, seen: AlertSeen | None, origin: float) -> Check:
    label = f"{name} fires"
    if seen is None or seen.firing_at is None:
        pending = "" if seen is None or seen.pending_at is None else ", pending only"
        return Check(label, False, f"never fired{pending}")
    detail = f"firing after {_after(seen.firing_at, origin)}"
    if seen.delivered_at is None and seen.inhibited_at is not None:
        return Check(label, True, f"{detail}; inhibited in Alertmanager by a firing critical")
    if seen.delivered_at is None:
        return Check(label, False, f"{detail}; Alertmanager never delivered it")
    return Check(
        label,
        True,
        f"{detail}, delivered after {_after(seen.delivered_at, origin)} to {seen.delivered_to}",
    )


def _unknown(names: Iterable[str], known: frozenset[str]) -> list[Check]:
    return [
        Check(f"{name} exists", False, "no such alert in the rules file")
        for name in sorted(set(names) - known)
    ]


def judge(
    expectations: Expectations,
    alerts: AlertLog,
    requests: RequestMatch | None,
    *,
    origin: float,
) -> list[Check]:
    """Every check of a run; time to fire counts from *origin* (the incident's start)."""
    e = expectations
    checks = _unknown((*e.firing, *e.quiet, *e.may_fire), e.known)
    checks += [_fired(name, alerts.alerts.get(name), origin) for name in e.firing]
    for name in e.quiet:
        seen = alerts.alerts.get(name)
        fired = seen is not None and seen.firing_at is not None
        detail = f"fired after {_after(seen.firing_at, origin)}" if fired and seen else "quiet"
        checks.append(Check(f"{name} stays quiet", not fired, detail))
    allowed = {*e.firing, *e.quiet, *e.may_fire}  # quiet ones are judged above, by name
    unexpected = [name for name in alerts.firing() if name not in allowed]
    checks.append(
        Check(
            "no other alert fires",
            not unexpected,
            f"fired: {', '.join(unexpected)}" if unexpected else "none did",
        )
    )
    if requests is not None:
        r = requests
        detail = (
            f"{r.locust_requests} requests made, {r.ids_sent} IDs recorded, "
            f"{r.lines_found} lines found"
        )
        problems = [
            f"{count} {kind} (e.g. {', '.join(sample[:3])})"
            for kind, count, sample in (
                ("missing", r.missing_count, r.missing),
                ("duplicated", r.duplicated_count, r.duplicated),
                ("unexpected", r.unexpected_count, r.unexpected),
            )
            if count
        ]
        if problems:
            detail += "; " + "; ".join(problems)
        checks.append(Check("every request logged exactly once", r.ok, detail))
    return checks
