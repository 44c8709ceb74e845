"""The transform contract, shared by every stage of a pipeline.

A source hands the pipeline a :class:`RawLine`; the first stage (``parse``) turns it into an
:class:`Event`, a nested ``dict`` shaped like the Elasticsearch document (ECS field names,
``{"log": {"level": "info"}}`` rather than ``{"log.level": "info"}``). Every later stage is a
:data:`Processor`: it takes the event and returns it (mutated or replaced). A stage that wants
the event gone raises :class:`DropEvent`; the runner counts the drop, nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DropEvent", "Event", "Parser", "Processor", "RawLine"]

Event = dict[str, Any]
Processor = Callable[[Event], Event]


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line as read from a file, before any parsing."""

    data: bytes
    """The line's bytes without its terminator (``\\n`` and a trailing ``\\r`` removed)."""
    path: str
    """The path the line was read from."""
    file_id: str
    """Stable identity of the file (fingerprint + device/inode), survives renames."""
    offset: int
    """Byte offset where the line starts in that file."""
    tags: tuple[str, ...] = ()
    """Problems the source already saw: ``_partial`` (no newline yet), ``_truncated`` (too long)."""
    end_offset: int = 0
    """Offset just past the line's terminator: where reading resumes once this line is acknowledged.
    Sources always set it; 0 means unknown (hand-made lines in tests)."""


Parser = Callable[[RawLine], Event]
"""The first stage: turns a :class:`RawLine` into an :class:`Event` (never raises, except :class:`DropEvent`)."""


class DropEvent(Exception):
    """Raised by a stage to drop the event on purpose (a filter); the runner counts it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
