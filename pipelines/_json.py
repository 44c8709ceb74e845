"""What orjson changes silently in a line, found cheaply: duplicate keys and integers beyond 64 bits.

orjson keeps the last value of a repeated key and turns an integer outside ``[-2**63, 2**64-1]``
into the nearest float. :func:`suspect` tells, from two C-speed scans of the line, whether either
may have happened; only then does :func:`read_exactly` read the line again with the standard
library (several times slower), which sees both.

Why the scans suffice: every key of a line written the usual way (``"key":`` or ``"key": ``) is
a ``"`` followed by ``:``, so a line whose objects hold as many keys as it has ``":`` has no key
twice (a ``":`` inside a string only makes the count larger: then the keys are counted exactly).
A line that writes a space *before* a colon (``"key" :``) and repeats a key as often as it does
so is not caught: no JSON writer in use does that. An integer that does not fit in 64 bits has
at least 19 digits in a row.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["ExactBody", "read_exactly", "suspect"]

_DIGITS: Final = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
"""``translate`` table: every digit becomes ``0``, every other byte a space."""
_RUN: Final = b"0" * 19
_OUT_OF_RANGE: Final = re.compile(rb"[0-9]{20}|-[0-9]{19}")
"""Where a run of 19 digits is found: only these can be beyond 64 bits (a positive 19-digit
number, such as an epoch in nanoseconds, fits)."""
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_INF: Final = float("inf")
_MAX_DIGITS: Final = 20  # longer literals are out of range; int() of huge ones is refused anyway


def suspect(data: bytes, body: dict[str, Any]) -> bool:
    """Whether orjson's ``body`` of ``data`` may have lost a key or rounded an integer."""
    keys = data.count(b'":')
    if keys != len(body) and keys != _count_keys(body):
        return True
    return _RUN in data.translate(_DIGITS) and _OUT_OF_RANGE.search(data) is not None


def _count_keys(value: Any) -> int:
    """Keys of every object in ``value`` (a line's objects nest)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(v for v in item.values() if type(v) is dict or type(v) is list)
        elif type(item) is list:
            stack.extend(v for v in item if type(v) is dict or type(v) is list)
    return count


class ExactBody:
    """The line read again: its object, and whether a key repeated or an integer was too big."""

    __slots__ = ("body", "duplicate_keys", "integer_out_of_range")

    def __init__(self) -> None:
        self.body: Any = None
        self.duplicate_keys = False
        self.integer_out_of_range = False

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)  # the last value wins, as with orjson
        if len(result) != len(pairs):
            self.duplicate_keys = True
        return result

    @staticmethod
    def _float(text: str) -> float:
        value = float(text)
        if value in (_INF, -_INF):  # orjson refuses these: so must we
            raise ValueError(f"{text} is not a finite number")
        return value

    @staticmethod
    def _constant(name: str) -> float:
        raise ValueError(f"{name} is not JSON")

    def _integer(self, text: str) -> int | str:
        if len(text.lstrip("-")) <= _MAX_DIGITS:
            value = int(text)
            if _INT_MIN <= value <= _INT_MAX:
                return value
        self.integer_out_of_range = True
        return text  # the digits, exactly


def read_exactly(text: str) -> ExactBody | None:
    """``text`` with the standard library, as strict as orjson but for integers; ``None`` if
    that fails (not JSON, a float beyond a double, nesting deeper than its recursion limit)."""
    exact = ExactBody()
    try:
        exact.body = json.loads(
            text,
            object_pairs_hook=exact._object,
            parse_int=exact._integer,
            parse_float=exact._float,
            parse_constant=exact._constant,
        )
    except (ValueError, RecursionError):
        return None
    return exact
