"""Log levels: one lower-case spelling per level, whatever the line wrote."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["DEFAULT_LEVEL_ALIASES", "KNOWN_LEVELS", "NUMERIC_LEVELS", "LevelNormaliser"]

KNOWN_LEVELS: Final = frozenset(
    {"trace", "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
)
"""Levels after normalisation (Python's names plus syslog's); anything else is kept as written."""

DEFAULT_LEVEL_ALIASES: Final[Mapping[str, str]] = {
    "warn": "warning",
    "err": "error",
    "eror": "error",
    "crit": "critical",
    "fatal": "critical",
    "panic": "critical",
    "emerg": "emergency",
    "information": "info",
    "informational": "info",
    "dbg": "debug",
    "trc": "trace",
    "severe": "error",  # java.util.logging
    "fine": "debug",
    "finer": "trace",
    "finest": "trace",
}
"""Lower-cased spelling → level. Python's own names (``WARNING``, ``CRITICAL``) are the target
spellings, so python-json-logger output only needs lower-casing."""

NUMERIC_LEVELS: Final[Mapping[int, str]] = {
    5: "trace",
    10: "debug",
    20: "info",
    25: "notice",
    30: "warning",
    40: "error",
    50: "critical",
}
"""Python's numeric levels (``levelno``). Other numbers (pino's 30 = info…) are kept as text."""

_MAX_LENGTH: Final = 32
_CACHE_MAX: Final = 256


class LevelNormaliser:
    """``"WARN"`` → ``"warning"``, ``40`` → ``"error"``; ``None`` for what is not a level."""

    __slots__ = ("_aliases", "known")

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self._aliases = {
            **DEFAULT_LEVEL_ALIASES,
            **{k.lower(): v.lower() for k, v in (aliases or {}).items()},
        }
        self.known: Callable[[object], str | None] = functools.lru_cache(maxsize=_CACHE_MAX)(
            self._normalise
        )
        """The call, cached, for a value known to be neither a bool nor unhashable (a ``str``):
        hot paths call it directly to save a call."""

    def __call__(self, value: object) -> str | None:
        """The normalised level of ``value`` (a string or a Python level number)."""
        if type(value) is bool:  # not a level, though True == 1
            return None
        try:
            return self.known(value)
        except TypeError:  # unhashable: an object or a list is not a level
            return None

    def _normalise(self, value: object) -> str | None:
        if type(value) is int:
            return NUMERIC_LEVELS.get(value, str(value))
        if not isinstance(value, str):
            return None
        text = value.strip().lower()
        if not text or len(text) > _MAX_LENGTH:
            return None
        if text.isdecimal():
            return NUMERIC_LEVELS.get(int(text), text)
        return self._aliases.get(text, text)
