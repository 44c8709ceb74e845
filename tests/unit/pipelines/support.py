"""Helpers shared by the pipeline tests: lines and a fixed clock."""

from __future__ import annotations

from typing import Any

import orjson

from pipelines import RawLine

NOW = 1714564800.5
"""The injected read time: 2024-05-01T12:00:00.500Z."""
NOW_ISO = "2024-05-01T12:00:00.500Z"
PATH = "/var/log/app/app.log"
FILE_ID = "fp-1:2049:1234"


def raw(data: bytes | str | dict[str, Any], offset: int = 0, tags: tuple[str, ...] = ()) -> RawLine:
    """A RawLine from bytes, text or an object (serialised as python-json-logger would)."""
    if isinstance(data, dict):
        data = orjson.dumps(data)
    elif isinstance(data, str):
        data = data.encode()
    return RawLine(data, PATH, FILE_ID, offset, tags)
