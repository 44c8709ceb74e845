"""``drop``: a filter. Events matching any of its conditions are dropped — and counted, because
the runner counts every :class:`~pipelines.types.DropEvent` by its reason."""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from pipelines._model import StageModel, compile_regex
from pipelines._paths import MISSING, get_path, split_path
from pipelines.context import PipelineContext
from pipelines.levels import LevelNormaliser
from pipelines.types import Compiled, DropEvent, Event

__all__ = ["Drop", "DropConfig"]

Scalar = str | int | float | bool | None
_MESSAGE_SCAN_CHARS: Final = 8192


class DropConfig(StageModel):
    """Drop events on purpose (health checks, debug noise); each drop is counted by reason."""

    type: Literal["drop"] = "drop"
    reason: str = Field(
        "filtered",
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="Reason the drops are counted under (a metric label: keep it a fixed word).",
    )
    levels: list[str] = Field(
        default_factory=list,
        description="Drop events whose `log.level` (normalised: `WARN` = `warning`) is one of these.",
    )
    fields: dict[str, list[Scalar]] = Field(
        default_factory=dict,
        description="Dotted field → values; drop events where the field equals one of them "
        "(e.g. `url.path: [/healthz, /readyz]`).",
    )
    message_regex: str | None = Field(
        None, description="Drop events whose `message` matches this regex (searched, first 8 KiB)."
    )

    @field_validator("fields")
    @classmethod
    def _paths(cls, fields: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for path in fields:
            split_path(path)
        return fields

    @field_validator("message_regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            compile_regex(pattern)
        return pattern

    @model_validator(mode="after")
    def _has_condition(self) -> DropConfig:
        if not (self.levels or self.fields or self.message_regex):
            raise ValueError("a drop stage needs levels, fields or message_regex")
        return self


class Drop:
    """The ``drop`` stage."""

    __slots__ = ("_fields", "_levels", "_message", "_reason")

    def __init__(self, config: DropConfig, context: PipelineContext | None = None) -> None:
        del context  # not needed; the argument keeps every stage built alike
        normalise = LevelNormaliser()
        self._reason = config.reason
        self._levels = frozenset(normalise(level) or level for level in config.levels)
        self._fields = tuple(
            (split_path(path), _hashable_values(values)) for path, values in config.fields.items()
        )
        self._message = re.compile(config.message_regex) if config.message_regex else None

    def __call__(self, event: Event) -> Event:
        """Raise :class:`DropEvent` if the event matches; return it untouched otherwise."""
        if self._levels and get_path(event, ("log", "level")) in self._levels:
            raise DropEvent(self._reason)
        for path, values in self._fields:
            value = get_path(event, path)
            if value is not MISSING and _key(value) in values:
                raise DropEvent(self._reason)
        if self._message is not None:
            message = event.get("message")
            if type(message) is str and self._message.search(message, 0, _MESSAGE_SCAN_CHARS):
                raise DropEvent(self._reason)
        return event

    def compile(self, keys: tuple[str, ...], fields: frozenset[str] | None) -> Compiled:
        """The same for every key set: the filter reads ECS fields and leaves the event alone."""

        def step(event: Event, app: dict[str, Any]) -> dict[str, Any]:
            self(event)
            return app

        return Compiled(step, keys, fields)


def _key(value: Any) -> Any:
    # True == 1 in Python; a filter on status 1 must not drop `true`, so the type is part of it.
    return (type(value), value) if type(value) in (str, int, float, bool, type(None)) else None


def _hashable_values(values: list[Scalar]) -> frozenset[Any]:
    return frozenset(_key(value) for value in values)
