"""Time helpers on integer epoch microseconds: exact (no float rounding) and cached per second."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

__all__ = [
    "MAX_EPOCH_US",
    "MIN_EPOCH_US",
    "EpochUnit",
    "UtcFormatter",
    "datetime_to_epoch_us",
    "epoch_number_to_us",
    "epoch_s_to_us",
    "utc_iso_to_epoch_us",
]

EpochUnit = Literal["s", "ms", "us", "ns"]
Precision = Literal["ms", "us"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)
MIN_EPOCH_US: Final = 0
"""Times before 1970 are refused: in logs they are placeholders (Go's zero time is year 1), and
routing one to a daily index of its "day" would have retention delete it at once."""
MAX_EPOCH_US: Final = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // _ONE_US

# Magnitude thresholds for bare epoch numbers: 1e11 s is the year 5138, 1e11 ms is 1973-03-03.
# So seconds, milliseconds, microseconds and nanoseconds are told apart for any date between
# 1973 and 5138; an earlier date in ms/us/ns would be read as a later one in a coarser unit.
_SECONDS_BELOW: Final = 100_000_000_000
_MILLIS_BELOW: Final = _SECONDS_BELOW * 1000
_MICROS_BELOW: Final = _MILLIS_BELOW * 1000
_NANOS_BELOW: Final = _MICROS_BELOW * 1000
_US_PER: Final[dict[str, int]] = {"s": 1_000_000, "ms": 1000, "us": 1}

_CACHE_MAX: Final = 1024
_MS_SUFFIXES: Final = tuple(f".{ms:03d}Z" for ms in range(1000))  # cheaper than formatting


def epoch_number_to_us(value: int | float) -> int | None:
    """Epoch seconds / ms / µs / ns, told apart by magnitude; ``None`` if negative or absurd."""
    if not value >= 0:  # also rejects NaN
        return None
    if value < _SECONDS_BELOW:
        unit: EpochUnit = "s"
    elif value < _MILLIS_BELOW:
        unit = "ms"
    elif value < _MICROS_BELOW:
        unit = "us"
    elif value < _NANOS_BELOW:
        unit = "ns"
    else:
        return None
    if unit == "ns":
        us = int(value) // 1000 if type(value) is int else round(value / 1000)
    elif type(value) is int:
        us = value * _US_PER[unit]
    else:
        us = round(value * _US_PER[unit])
    return us if us <= MAX_EPOCH_US else None


def epoch_s_to_us(seconds: float) -> int:
    """Epoch seconds (``time.time()``) as integer microseconds."""
    return round(seconds * 1_000_000)


def datetime_to_epoch_us(moment: datetime) -> int:
    """An aware datetime as exact epoch microseconds."""
    return (moment - _EPOCH) // _ONE_US


def utc_iso_to_epoch_us(text: str) -> int | None:
    """Read back an ISO 8601 time (ours: ``…Z``; others too); ``None`` if it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return datetime_to_epoch_us(moment)
    except OverflowError:
        return None


class UtcFormatter:
    """Formats epoch microseconds as ``2024-05-01T12:00:00.123Z`` (or ``.123456Z``).

    The ``YYYY-MM-DDTHH:MM:SS`` prefix is cached per second: log lines come in bursts that share
    their second, and building the prefix is most of the cost.
    """

    __slots__ = ("_micros", "_prefix")

    def __init__(self, precision: Precision = "ms") -> None:
        self._micros = precision == "us"
        self._prefix = functools.lru_cache(maxsize=_CACHE_MAX)(_utc_prefix)

    def format(self, epoch_us: int) -> str:
        """The UTC ISO 8601 string with ``Z``; the caller keeps ``epoch_us`` in range."""
        seconds, micros = divmod(epoch_us, 1_000_000)
        prefix = self._prefix(seconds)
        if self._micros:
            return f"{prefix}.{micros:06d}Z"
        return prefix + _MS_SUFFIXES[micros // 1000]


def _utc_prefix(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of epoch ``seconds`` (UTC)."""
    moment = _EPOCH + timedelta(seconds=seconds)
    # Not strftime: glibc does not zero-pad years before 1000.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
