"""The transform contract, shared by every stage of a pipeline.

A source hands the pipeline a :class:`RawLine`; the first stage (``parse``) turns it into an
:class:`Event`, a nested ``dict`` shaped like the Elasticsearch document (ECS field names,
``{"log": {"level": "info"}}`` rather than ``{"log.level": "info"}``). Every later stage is a
:data:`Processor`: it takes the event and returns it (mutated or replaced). A stage that wants
the event gone raises :class:`DropEvent`; the runner counts the drop, nothing is lost silently.

A stage may also offer ``compile(keys, fields) -> Compiled | None`` (see :class:`Compiled`): the
same stage, specialised for the lines whose app object has exactly ``keys`` (in that order),
so the work that depends only on the key set is done once per key set. The runner
(:class:`~pipelines.pipeline.Pipeline`) caches the compiled chain per key set; the stage's
``__call__`` and its compiled :data:`Step` share their helpers, so each decision is written once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple, cast

__all__ = [
    "Compiled",
    "DropEvent",
    "Event",
    "Parser",
    "Processor",
    "RawLine",
    "Step",
    "raw_lines",
]

Event = dict[str, Any]
Processor = Callable[[Event], Event]

Step = Callable[[Event, dict[str, Any]], dict[str, Any] | None]
"""A stage compiled for one key set: ``step(event, app)`` does the stage's work on ``event``, whose
app object ``app`` (``event[namespace]``) has the key set it was compiled for. It returns the app
object afterwards (``{}`` once it is gone from the event) when that holds the keys the
:class:`Compiled` said, else ``None``: the event is still exactly what the stage's ``__call__``
makes of it, but the later stages must run their generic way."""


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


def _slot_setter(name: str) -> Callable[[RawLine, Any], None]:
    return cast(Callable[[RawLine, Any], None], vars(RawLine)[name].__set__)


_NEW = object.__new__
_SINK: Callable[[Iterable[object]], None] = deque[object](maxlen=0).extend
_SETTERS = tuple(
    _slot_setter(name) for name in ("data", "path", "file_id", "offset", "tags", "end_offset")
)


def raw_lines(
    data: list[bytes],
    paths: Iterable[str],
    file_ids: Iterable[str],
    offsets: Iterable[int],
    tags: Iterable[tuple[str, ...]],
    end_offsets: Iterable[int],
) -> list[RawLine]:
    """The lines ``map(RawLine, data, paths, …)`` makes, from columns (one per field, in field
    order; the others may be longer than ``data``, ``itertools.repeat`` say), twice as fast.

    ``RawLine.__init__`` costs ~0.5 µs a line (six ``object.__setattr__`` calls from Python, as
    the class is frozen); here each field is set for all lines by one C-level ``map`` over its
    slot's setter. A field added to RawLine must be added here too
    (``tests/unit/pipelines/test_types.py`` compares with the constructor).
    """
    lines: list[RawLine] = list(map(_NEW, repeat(RawLine, len(data))))
    for setter, column in zip(
        _SETTERS, (data, paths, file_ids, offsets, tags, end_offsets), strict=True
    ):
        _SINK(map(setter, lines, column))
    return lines


class Compiled(NamedTuple):
    """What ``stage.compile(keys, fields)`` returns; ``None`` instead means "run me generically"
    (and every stage after me)."""

    step: Step
    """Does the stage's work on an event with the compiled key set."""
    keys: tuple[str, ...]
    """The app object's keys after the step, when it returns the app object (the next stage is
    compiled for them)."""
    fields: frozenset[str] | None
    """The dotted fields the event may hold outside the app namespace after the step; ``None``
    when the stage does not say (a later stage that needs to know then runs generically)."""


Parser = Callable[[RawLine], Event]
"""The first stage: turns a :class:`RawLine` into an :class:`Event` (never raises, except :class:`DropEvent`)."""


class DropEvent(Exception):
    """Raised by a stage to drop the event on purpose (a filter); the runner counts it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
