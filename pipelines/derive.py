"""``derive``: fields computed from others — ``event.duration``, ``event.outcome``,
``error.grouping_key``.

* ``event.duration`` (ECS: nanoseconds) from the first valid of the configured keys. The unit
  comes from the key's suffix (``_ms``, ``_us``, ``_ns``, ``_s``, ``_seconds``, also camelCase
  ``durationMs``), from ``duration_units``, or from a unit in the value (``"12.5ms"``, Go's
  ``"1m30.5s"``); keys without one (``duration``, ``latency``, ``elapsed``, ``took``) are
  ``duration_default_unit``, milliseconds unless set — what web frameworks mostly log. A
  negative or non-numeric value is tagged ``_duration_invalid`` and stays under the app namespace.
* ``event.outcome``: with an HTTP status 100-599, ``success`` below ``failure_status_min`` (400)
  and ``failure`` from it; without one, ``failure`` for error levels and nothing otherwise — an
  info line is not evidence that something succeeded.
* ``error.grouping_key``: xxh3-64 of ``error.type`` and ``error.message`` with numbers, UUIDs,
  hex IDs, addresses, e-mails and quoted strings masked (:mod:`pipelines.grouping`). Error-level
  lines without an exception are grouped by logger + masked message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from pydantic import Field

from pipelines import tags as T
from pipelines._model import StageModel
from pipelines._paths import MISSING, add_tag, get_path, set_path
from pipelines.context import PipelineContext
from pipelines.ecs import split_exception
from pipelines.grouping import grouping_key
from pipelines.types import Compiled, Event

__all__ = [
    "DEFAULT_DURATION_KEYS",
    "Derive",
    "DeriveConfig",
    "duration_ns",
    "parse_duration_ns",
    "set_duration",
    "unit_of_key",
]

DurationUnit = Literal["ns", "us", "ms", "s"]

DEFAULT_DURATION_KEYS: Final = (
    "duration_ms",
    "duration_us",
    "duration_ns",
    "duration_s",
    "duration_seconds",
    "duration",
    "latency_ms",
    "latency_us",
    "latency",
    "elapsed_ms",
    "elapsed",
    "response_time_ms",
    "response_time",
    "took_ms",
    "took",
    "request_time",
    "time_taken_ms",
)
_NS_PER: Final[dict[str, float]] = {
    "ns": 1,
    "us": 1e3,
    "µs": 1e3,
    "μs": 1e3,
    "ms": 1e6,
    "s": 1e9,
    "m": 60e9,
    "h": 3600e9,
}
# Last word of the key (snake_case, kebab-case or camelCase) → unit.
_SUFFIX_UNITS: Final[dict[str, DurationUnit]] = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "ms": "ms",
    "millis": "ms",
    "milliseconds": "ms",
    "us": "us",
    "micros": "us",
    "microseconds": "us",
    "ns": "ns",
    "nanos": "ns",
    "nanoseconds": "ns",
}
_WORD_BOUNDARY: Final = re.compile(r"[_\-\s]+|(?<=[a-z0-9])(?=[A-Z])")
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|μs|ms|s|m|h)")
_DURATION_STRING: Final = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)\s*(?:ns|us|µs|μs|ms|s|m|h)\s*)+")
_MAX_NS: Final = 2**63 - 1
_ERROR_LEVELS: Final = frozenset({"error", "critical", "alert", "emergency"})


def _default_units() -> dict[str, DurationUnit]:
    return {"request_time": "s"}  # nginx's $request_time


class DeriveConfig(StageModel):
    """Compute ``event.duration``, ``event.outcome`` and ``error.grouping_key``."""

    type: Literal["derive"] = "derive"
    duration_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DURATION_KEYS),
        description="Line keys holding the request duration; the first valid one wins.",
    )
    duration_default_unit: DurationUnit = Field(
        "ms",
        description="Unit of duration keys without a unit suffix (`duration`, `latency`, `took`).",
    )
    duration_units: dict[str, DurationUnit] = Field(
        default_factory=_default_units,
        description="Unit per key, over the suffix rule (nginx's `request_time` is seconds).",
    )
    failure_status_min: int = Field(
        400,
        ge=100,
        le=600,
        description="HTTP statuses from this one up are `event.outcome: failure` (600: none).",
    )
    outcome_from_level: bool = Field(
        True, description="Without a status, an error-level line is `event.outcome: failure`."
    )
    grouping_key: bool = Field(True, description="Compute `error.grouping_key`.")
    group_error_logs: bool = Field(
        True,
        description="Also group error-level lines without an exception, by logger + message.",
    )


def unit_of_key(key: str, default: DurationUnit = "ms") -> DurationUnit:
    """``duration_ms`` → ``ms``, ``latencySeconds`` → ``s``, ``latency`` → ``default``."""
    words = [word for word in _WORD_BOUNDARY.split(key) if word]
    if len(words) < 2:  # a key that is only "s" or "ms" is not a duration with a unit suffix
        return default
    return _SUFFIX_UNITS.get(words[-1].lower(), default)


def parse_duration_ns(value: Any, unit: DurationUnit) -> int | None:
    """Nanoseconds of a number in ``unit`` or a duration string; ``None`` if not a duration."""
    kind = type(value)
    if kind is int or kind is float:
        number = float(value) * _NS_PER[unit]
    elif kind is str:
        text = value.strip()
        try:
            number = float(text) * _NS_PER[unit]
        except ValueError:
            if not _DURATION_STRING.fullmatch(text):
                return None
            number = sum(
                float(amount) * _NS_PER[suffix] for amount, suffix in _DURATION_PART.findall(text)
            )
    else:
        return None
    if not (math.isfinite(number) and 0 <= number <= _MAX_NS):
        return None
    return round(number)


def duration_ns(value: Any, unit: DurationUnit, ns_per_unit: float) -> int | None:
    """:func:`parse_duration_ns`, quicker for a number (``ns_per_unit``: that of ``unit``)."""
    if type(value) is float or type(value) is int:
        number = float(value) * ns_per_unit
        return round(number) if 0 <= number <= _MAX_NS else None  # NaN compares False
    return parse_duration_ns(value, unit)


def set_duration(event: Event, nanos: int) -> bool:
    """``event.duration``, unless set already (or ``event`` is not an object)."""
    target = event.get("event")
    if target is None:
        target = event["event"] = {}
    elif type(target) is not dict or "duration" in target:
        return False
    target["duration"] = nanos
    return True


class Derive:
    """The ``derive`` stage."""

    __slots__ = (
        "_durations",
        "_failure_min",
        "_group_logs",
        "_grouping",
        "_namespace",
        "_outcome_from_level",
    )

    def __init__(
        self, config: DeriveConfig | None = None, context: PipelineContext | None = None
    ) -> None:
        config = config or DeriveConfig()
        context = context or PipelineContext()
        self._namespace = context.namespace
        units: Mapping[str, DurationUnit] = config.duration_units
        self._durations: dict[str, tuple[int, DurationUnit, float]] = {}
        for rank, key in enumerate(dict.fromkeys(config.duration_keys)):
            unit = units.get(key) or unit_of_key(key, config.duration_default_unit)
            self._durations[key] = (rank, unit, _NS_PER[unit])
        self._failure_min = config.failure_status_min
        self._outcome_from_level = config.outcome_from_level
        self._grouping = config.grouping_key
        self._group_logs = config.group_error_logs

    def __call__(self, event: Event) -> Event:
        """Add the derived fields the event has the inputs for."""
        app = event.get(self._namespace)
        if type(app) is dict and app:
            present = self._duration_keys(app)
            if present:
                self._duration(event, app, present)
        self.finish(event)
        return event

    def _duration_keys(self, keys: Iterable[str]) -> list[str]:
        """The duration keys among ``keys``, the one tried first first."""
        durations = self._durations
        present = [key for key in keys if key in durations]
        if len(present) > 1:
            present.sort(key=lambda key: durations[key][0])
        return present

    def compile(self, keys: tuple[str, ...], fields: frozenset[str] | None) -> Compiled:
        """This stage for app objects with ``keys``: which duration key is tried first is known
        once (if its value is no duration, the step still does what :meth:`__call__` does, and
        the later stages run generically)."""
        present = self._duration_keys(keys)
        first = present[0] if present else None
        rest = tuple(key for key in keys if key != first)
        duration = self._duration
        finish = self.finish

        def step(event: Event, app: dict[str, Any]) -> dict[str, Any] | None:
            taken = duration(event, app, present) if present else None
            finish(event)
            return app if taken == first else None

        return Compiled(step, rest, None)

    def finish(self, event: Event) -> None:
        """``event.outcome`` and ``error.grouping_key`` (what needs no app key)."""
        log = event.get("log")
        level = log.get("level") if type(log) is dict else None
        # event.outcome (inline: this runs for every event)
        http = event.get("http")
        response = http.get("response") if type(http) is dict else None
        status = response.get("status_code") if type(response) is dict else None
        if type(status) is int and 100 <= status <= 599:
            outcome: str | None = "success" if status < self._failure_min else "failure"
        elif self._outcome_from_level and level in _ERROR_LEVELS:
            outcome = "failure"
        else:
            outcome = None
        if outcome is not None:
            outcome_event = event.get("event")
            if outcome_event is None:
                event["event"] = {"outcome": outcome}
            elif type(outcome_event) is dict:
                outcome_event.setdefault("outcome", outcome)
        if self._grouping and ("error" in event or level in _ERROR_LEVELS):
            self._grouping_key(event, level)

    def _duration(self, event: Event, app: dict[str, Any], keys: list[str]) -> str | None:
        """``event.duration`` from the first valid of ``keys`` (in order); returns the key
        taken out of the app object, if any."""
        durations = self._durations
        taken = None
        for key in keys:
            _, unit, ns_per_unit = durations[key]
            nanos = duration_ns(app[key], unit, ns_per_unit)
            if nanos is None:
                add_tag(event, T.DURATION_INVALID)
                continue
            if set_duration(event, nanos):
                del app[key]
                taken = key
            break  # set (or no room: the key stays where it is)
        if not app:
            del event[self._namespace]
        return taken

    def _grouping_key(self, event: Event, level: Any) -> None:
        error = event.get("error")
        if type(error) is dict:
            if "grouping_key" in error:
                return
            error_type, message = error.get("type"), error.get("message")
            if error_type is None and message is None and type(error.get("stack_trace")) is str:
                error_type, message = split_exception(error["stack_trace"])
            if type(error_type) is str or type(message) is str:
                error["grouping_key"] = grouping_key(
                    error_type if type(error_type) is str else None,
                    message if type(message) is str else None,
                )
                return
        if self._group_logs and level in _ERROR_LEVELS:
            message = event.get("message")
            if type(message) is str:
                logger = get_path(event, ("log", "logger"))
                origin = f"log:{logger if logger is not MISSING else ''}"
                set_path(event, ("error", "grouping_key"), grouping_key(origin, message))
