"""The fault model: per route, how often requests fail and how much latency they get.

Pure: no I/O, no randomness. The server draws against a :class:`Fault`; the admin endpoint
edits the :class:`FaultTable`. A rule is keyed by a route as the application declares it
(``/checkout``, ``/orders/{id}``) or ``*`` for every route; an exact rule wins over ``*``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["ANY_ROUTE", "MAX_LATENCY_MS", "NO_FAULT", "Fault", "FaultError", "FaultTable"]

ANY_ROUTE: Final = "*"
MAX_LATENCY_MS: Final = 60_000.0
"""A typo (an extra zero or three) must not park every request for hours."""
_MAX_ROUTE_CHARS: Final = 256


class FaultError(ValueError):
    """A fault rule is invalid; the message says which route and which value."""


class Fault(BaseModel):
    """What happens to a request of one route: extra latency, then an error with some probability."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    error_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Probability (0..1) that a request fails."
    )
    latency_ms: float = Field(
        0.0, ge=0.0, le=MAX_LATENCY_MS, description="Latency added to every request, in ms."
    )

    @property
    def active(self) -> bool:
        """Whether this fault changes anything (so the hot path can skip it)."""
        return self.error_rate > 0.0 or self.latency_ms > 0.0

    @classmethod
    def parse(cls, data: Any, *, where: str = "fault") -> Fault:
        """A fault from decoded JSON; :class:`FaultError` names the first bad value."""
        if not isinstance(data, Mapping):
            raise FaultError(
                f"{where}: expected an object like "
                '{"error_rate": 0.5, "latency_ms": 200}, '
                f"got {type(data).__name__}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise FaultError(_describe(where, exc)) from exc


NO_FAULT: Final = Fault()


def _describe(where: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    return f"{where}: {key}: {first['msg']}" if key else f"{where}: {first['msg']}"


def _check_route(route: Any, known_routes: Collection[str] | None) -> str:
    if not isinstance(route, str) or not route:
        raise FaultError(f"route {route!r}: must be a non-empty string")
    if route == ANY_ROUTE:
        return route
    if not route.startswith("/") or len(route) > _MAX_ROUTE_CHARS or not route.isprintable():
        raise FaultError(f"route {route!r}: must be {ANY_ROUTE!r} or a path starting with '/'")
    if known_routes is not None and route not in known_routes:
        known = ", ".join(sorted(known_routes))
        raise FaultError(f"route {route!r}: no such route (known: {known})")
    return route


class FaultTable:
    """The fault rules by route, and when they last changed."""

    __slots__ = ("_changed_at", "_clock", "_rules")

    def __init__(
        self,
        rules: Mapping[str, Fault] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._rules: dict[str, Fault] = {}
        self._changed_at = clock()
        if rules:
            self.replace(rules)

    @staticmethod
    def parse_rules(data: Any, known_routes: Collection[str] | None = None) -> dict[str, Fault]:
        """Rules from decoded JSON (``{route: {"error_rate": …, "latency_ms": …}}``).

        With *known_routes*, a route the application does not have is refused: a typo would
        otherwise be a rule that silently never applies.
        """
        if not isinstance(data, Mapping):
            raise FaultError(
                'expected an object like {"/checkout": {"error_rate": 0.5, "latency_ms": 0}}, '
                f"got {type(data).__name__}"
            )
        return {
            _check_route(route, known_routes): Fault.parse(value, where=f"route {route!r}")
            for route, value in data.items()
        }

    @property
    def rules(self) -> dict[str, Fault]:
        """A copy of the rules by route."""
        return dict(self._rules)

    @property
    def changed_at(self) -> float:
        """Epoch seconds of the last change (creation counts as one)."""
        return self._changed_at

    def for_route(self, route: str) -> Fault:
        """The fault of *route*: its own rule, else the ``*`` rule, else no fault."""
        rules = self._rules
        fault = rules.get(route)
        if fault is None:
            fault = rules.get(ANY_ROUTE, NO_FAULT)
        return fault

    def set(self, route: str, fault: Fault) -> None:
        """Add or replace the rule of one route."""
        self._rules[_check_route(route, None)] = fault
        self._changed_at = self._clock()

    def remove(self, route: str) -> None:
        """Drop the rule of one route (no error if there was none)."""
        self._rules.pop(route, None)
        self._changed_at = self._clock()

    def replace(self, rules: Mapping[str, Fault]) -> None:
        """Swap the whole table for *rules*."""
        checked = {_check_route(route, None): fault for route, fault in rules.items()}
        self._rules = checked
        self._changed_at = self._clock()

    def clear(self) -> None:
        """Drop every rule."""
        self._rules = {}
        self._changed_at = self._clock()

    def to_json(self) -> dict[str, dict[str, float]]:
        """The rules as plain data, in the shape :meth:`parse_rules` reads."""
        return {route: fault.model_dump() for route, fault in sorted(self._rules.items())}
