"""Every tag a stage may add to ``tags``: what was wrong with (or done to) the line.

At most one of the *structure* tags says why the line is not a JSON object (and so only
``message`` carries it): ``_empty``, ``_jsonparsefailure``, ``_too_deep``, ``_not_object``. The
others are independent of it and of each other. Source tags (``_partial``, ``_truncated``) are
carried through first, in the order the source gave them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CORRELATION_INHERITED",
    "DUPLICATE_KEYS",
    "DURATION_INVALID",
    "EMPTY",
    "INTEGER_OUT_OF_RANGE",
    "INVALID_UTF8",
    "JSON_PARSE_FAILURE",
    "NOT_OBJECT",
    "PARTIAL",
    "REDACTED",
    "STATUS_INVALID",
    "TIMESTAMP_MISSING",
    "TIMESTAMP_OUT_OF_RANGE",
    "TIMESTAMP_PARSE_FAILURE",
    "TOO_DEEP",
    "TRACEPARENT_INVALID",
    "TRUNCATED",
]

# Set by the source.
PARTIAL: Final = "_partial"
"""The line had no newline yet (end of a file that stopped growing, or a rotated file's tail)."""
TRUNCATED: Final = "_truncated"
"""The line was longer than the source's limit and was cut; the JSON is usually broken too."""

# parse
EMPTY: Final = "_empty"
"""The line was empty or whitespace only (shipped, unless ``parse.empty_lines: drop``)."""
JSON_PARSE_FAILURE: Final = "_jsonparsefailure"
"""Not JSON (plain text, a cut fragment, ``NaN``, …): the whole line is ``message``."""
TOO_DEEP: Final = "_too_deep"
"""JSON nested deeper than orjson's limit of 1024 levels: the whole line is ``message``."""
NOT_OBJECT: Final = "_not_object"
"""Valid JSON but not an object (array, number, string, ``true``/``null``)."""
INVALID_UTF8: Final = "_invalid_utf8"
"""Bytes that are not UTF-8 were replaced by U+FFFD (the line may still have parsed)."""
DUPLICATE_KEYS: Final = "_duplicate_keys"
"""An object of the line had a key twice: the last value counts (as in most JSON readers), and
the whole line is kept in ``event.original`` so the others are not lost."""
INTEGER_OUT_OF_RANGE: Final = "_integer_out_of_range"
"""An integer beyond 64 bits (below -2**63 or above 2**64-1), which a JSON reader would turn into
an inexact float: it is kept as the string of its digits."""

# timestamp
TIMESTAMP_MISSING: Final = "_timestamp_missing"
"""No timestamp field: ``@timestamp`` is the read time."""
TIMESTAMP_PARSE_FAILURE: Final = "_timestampparsefailure"
"""A timestamp field was there but unreadable: ``@timestamp`` is the read time, the value stays
under the app namespace."""
TIMESTAMP_OUT_OF_RANGE: Final = "_timestamp_out_of_range"
"""The line's time was readable but outside the accepted window around the read time (older
than ``max_age_days``, or more than ``max_ahead_days`` ahead): ``@timestamp`` is the read time,
the original value stays under the app namespace. The indexer treats an event it receives with
such a time alike."""

# ecs / correlate / derive / redact
STATUS_INVALID: Final = "_status_invalid"
"""The HTTP status was not a number; the value stays under the app namespace."""
TRACEPARENT_INVALID: Final = "_traceparent_invalid"
"""A W3C ``traceparent`` was malformed and ignored; the value stays under the app namespace."""
CORRELATION_INHERITED: Final = "_correlation_inherited"
"""The correlation IDs were copied from the previous event of the same process/thread/task."""
DURATION_INVALID: Final = "_duration_invalid"
"""A duration field was not a non-negative number or duration string; it stays under the app
namespace."""
REDACTED: Final = "_redacted"
"""At least one value was redacted."""
