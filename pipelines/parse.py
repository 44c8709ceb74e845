"""``parse``: a raw line becomes an event. It never fails: a bad line is shipped as ``message``.

The decoded JSON object is kept whole under the app namespace (``{"app": {...}}``); the later
stages move the keys they understand to their ECS homes, and what is left stays there. Putting
the line's keys at the top level instead would let a key such as ``log`` or ``host`` collide
with the ECS objects of the same name.

Besides the body, ``parse`` writes what only the raw line knows: ``log.file.path``,
``log.offset``, ``event.id`` (the Elasticsearch ``_id``), ``event.created`` and the source's
tags, and a provisional ``@timestamp`` (the read time) that the ``timestamp`` stage replaces.

Nothing the JSON reader does changes a value silently: a key written twice keeps its last value
and the whole line in ``event.original`` (tag ``_duplicate_keys``); an integer beyond 64 bits is
kept as the string of its digits, not rounded to a float (tag ``_integer_out_of_range``). Lines
are screened for both with two byte scans; only a line that may have either is read again
(:mod:`pipelines._json`).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson
import xxhash
from pydantic import Field

from pipelines import tags as T
from pipelines._json import read_exactly, suspect
from pipelines._model import StageModel
from pipelines._time import UtcFormatter
from pipelines.context import PipelineContext
from pipelines.types import DropEvent, Event, RawLine

__all__ = ["Parse", "ParseConfig", "event_id"]

_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError
_hash128: Final = xxhash.xxh3_128_hexdigest
_USUAL_FIELDS: Final = frozenset(
    {"@timestamp", "log.file.path", "log.offset", "event.id", "event.created"}
)


class ParseConfig(StageModel):
    """Decode one line of JSON (always the first stage)."""

    type: Literal["parse"] = "parse"
    empty_lines: Literal["ship", "drop"] = Field(
        "ship",
        description=(
            "Empty or whitespace-only lines: `ship` them as an event tagged `_empty`, or `drop` "
            "them (raised as a counted drop with reason `empty_line`, never silently)."
        ),
    )
    keep_original: bool = Field(
        False,
        description=(
            "Also keep the whole raw line in `event.original` (about doubles the event size; "
            "redacted like every other field when a `redact` stage follows)."
        ),
    )


def event_id(file_id: str, offset: int) -> str:
    """The deterministic ``event.id`` (= Elasticsearch ``_id``): xxh3-128 hex of ``file_id:offset``.

    The same line read twice (a restart, a replay) gets the same id, so indexing it again is a
    no-op (``op_type=create`` answers 409).
    """
    return _hash128(f"{file_id}:{offset}".encode("utf-8", "surrogatepass"))


class Parse:
    """The ``parse`` stage: ``RawLine`` → ``Event``."""

    __slots__ = (
        "_created",
        "_created_ms",
        "_drop_empty",
        "_format",
        "_keep_original",
        "_namespace",
        "_now",
    )

    def __init__(
        self, config: ParseConfig | None = None, context: PipelineContext | None = None
    ) -> None:
        config = config or ParseConfig()
        context = context or PipelineContext()
        self._drop_empty = config.empty_lines == "drop"
        self._keep_original = config.keep_original
        self._namespace = context.namespace
        self._now = context.now
        self._format = UtcFormatter("ms").format
        self._created_ms = -1  # the read time's string is reused within a millisecond
        self._created = ""

    @property
    def keeps_original(self) -> bool:
        """Whether events carry the raw line in ``event.original``."""
        return self._keep_original

    @property
    def usual_fields(self) -> frozenset[str] | None:
        """The fields of the usual event besides the app object (a line that is a non-empty JSON
        object, without source tags): what compiled stages start from. ``None`` when events
        also carry the raw line (the runner then compiles nothing)."""
        return None if self._keep_original else _USUAL_FIELDS

    def __call__(self, raw: RawLine) -> Event:
        """Decode ``raw``; raise :class:`DropEvent` only for an empty line set to be dropped."""
        return self.parse_at(raw, self.read_time())

    def read_time(self) -> str:
        """Now, as ``event.created`` (and the provisional ``@timestamp``) will say it."""
        now_ms = round(self._now() * 1_000_000) // 1000
        if now_ms != self._created_ms:  # at 50k lines/s, one string serves ~50 lines
            self._created = self._format(now_ms * 1000)
            self._created_ms = now_ms
        return self._created

    def parse_at(self, raw: RawLine, created: str) -> Event:
        """:meth:`__call__` with the read time given (so a line can be parsed again, alike)."""
        try:
            body = _loads(raw.data)
        except _JSONDecodeError as exc:
            return self._build(raw, created, None, exc)
        if type(body) is not dict or not body or raw.tags or self._keep_original:
            return self._build(raw, created, body, None)
        if suspect(raw.data, body):  # rare: a key twice, or an integer beyond 64 bits
            return self._build(raw, created, body, None)
        # The usual line: one literal, with the keys in the order _build() gives them.
        offset = raw.offset
        return {
            "@timestamp": created,
            self._namespace: body,
            "log": {"file": {"path": raw.path}, "offset": offset},
            "event": {
                "id": _hash128(f"{raw.file_id}:{offset}".encode("utf-8", "surrogatepass")),
                "created": created,
            },  # event_id(), inlined
        }

    def _build(
        self, raw: RawLine, created: str, body: Any, exc: orjson.JSONDecodeError | None
    ) -> Event:
        """The event of any line: ``body`` is what orjson decoded, unless it raised ``exc``."""
        tags = list(raw.tags)
        data = raw.data
        event: Event = {"@timestamp": created}
        if exc is not None:
            body = self._recover(data, exc, tags, event)
        elif type(body) is not dict:
            text = data.decode("utf-8")
            event["message"] = body if type(body) is str else text
            tags.append(T.NOT_OBJECT)
            body = None
        repeated = T.DUPLICATE_KEYS in tags  # when _recover read the line exactly already
        if (
            type(body) is dict
            and body
            and T.INTEGER_OUT_OF_RANGE not in tags
            and suspect(data, body)
        ):
            body, repeated = _exactly(data, body, tags)
        if body:
            event[self._namespace] = body
        event["log"] = {"file": {"path": raw.path}, "offset": raw.offset}
        event["event"] = {"id": event_id(raw.file_id, raw.offset), "created": created}
        if self._keep_original or repeated:
            event["event"]["original"] = data.decode("utf-8", "replace")
        if tags:
            event["tags"] = tags
        return event

    def _recover(
        self, data: bytes, exc: orjson.JSONDecodeError, tags: list[str], event: Event
    ) -> dict[str, Any] | None:
        """A line orjson refused: find out why, salvage what can be, tag the rest."""
        try:
            text = data.decode("utf-8")
            retry = False
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
            tags.append(T.INVALID_UTF8)
            retry = True  # one bad byte inside a string value must not cost the whole object
        if text.startswith("\ufeff"):  # a byte order mark, as some Windows tools write
            text = text[1:]
            retry = True
        if not text.strip():
            if self._drop_empty:
                raise DropEvent("empty_line")
            tags.append(T.EMPTY)
            event["message"] = text
            return None
        if retry:
            try:
                body = _loads(text)
            except _JSONDecodeError as again:
                exc = again
            else:
                if type(body) is dict:
                    return body
                tags.append(T.NOT_OBJECT)
                event["message"] = body if type(body) is str else text
                return None
        if _is_infinity_error(exc):  # an integer too long even for a double: read it exactly
            exact = read_exactly(text)
            if exact is not None and type(exact.body) is dict and exact.integer_out_of_range:
                tags.append(T.INTEGER_OUT_OF_RANGE)
                if exact.duplicate_keys:
                    tags.append(T.DUPLICATE_KEYS)
                return exact.body
        tags.append(T.TOO_DEEP if _is_depth_error(exc) else T.JSON_PARSE_FAILURE)
        event["message"] = text
        return None


def _exactly(data: bytes, body: dict[str, Any], tags: list[str]) -> tuple[dict[str, Any], bool]:
    """``body`` as the line says it (integers beyond 64 bits as their digits), tagged; and
    whether a key was repeated (then the caller keeps the whole line)."""
    exact = read_exactly(data.decode("utf-8", "replace").removeprefix("\ufeff"))
    if exact is None or type(exact.body) is not dict:
        return body, False
    if exact.integer_out_of_range:
        tags.append(T.INTEGER_OUT_OF_RANGE)
        body = exact.body
    if exact.duplicate_keys:
        tags.append(T.DUPLICATE_KEYS)
    return body, exact.duplicate_keys


def _is_infinity_error(exc: orjson.JSONDecodeError) -> bool:
    # orjson: "number is infinity when parsed as double" (a float literal too: read_exactly
    # refuses those, so they stay a parse failure)
    return "infinity" in str(exc)


def _is_depth_error(exc: orjson.JSONDecodeError) -> bool:
    # orjson says "depth limit exceeded" (older releases: "recursion limit"); no error code.
    reason = str(exc)
    return "depth limit" in reason or "ecursion" in reason
