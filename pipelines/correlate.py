"""``correlate``: request and trace IDs become ``trace.id``, ``span.id``, ``transaction.id`` and
``http.request.id``, so one request's lines can be found together.

Sources, first come first served (a field is never overwritten): the configured keys of the line;
a W3C ``traceparent`` (``00-<trace 32 hex>-<parent 16 hex>-<flags>`` → ``trace.id`` and
``span.id``; a malformed one is ignored, tagged ``_traceparent_invalid`` and kept); an optional
regex over ``message`` with named groups. ``correlation_id`` and friends go to
``http.request.id``: ECS has no separate correlation field.

Optionally (``inherit``, off by default) a line without any ID inherits the IDs of the previous
line of the same host, process, thread and asyncio task, if that line is at most
``inherit_window_s`` away by ``@timestamp``; such events are tagged ``_correlation_inherited``.
In asyncio apps every request runs on the same thread, so without a task name in the line
(``taskName``) inheritance would link unrelated requests: enable it only where a thread (or
task) serves one request at a time. Memory is bounded: at most ``inherit_max_keys`` threads are
remembered, least recently seen first out.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from pipelines import tags as T
from pipelines._model import StageModel, compile_regex
from pipelines._paths import MISSING, add_tag, get_path, set_path
from pipelines._time import utc_iso_to_epoch_us
from pipelines.context import PipelineContext
from pipelines.types import Compiled, Event

__all__ = ["Correlate", "CorrelateConfig", "parse_traceparent", "place_id"]

_TRACE, _SPAN, _TRANSACTION, _REQUEST, _TRACEPARENT = range(5)
_PATHS: Final = (
    ("trace", "id"),
    ("span", "id"),
    ("transaction", "id"),
    ("http", "request", "id"),
)
_PARENTS: Final = tuple((path[:-1], path[-1]) for path in _PATHS)
_GROUPS: Final = {
    "trace_id": _TRACE,
    "span_id": _SPAN,
    "transaction_id": _TRANSACTION,
    "request_id": _REQUEST,
    "correlation_id": _REQUEST,
}
_MAX_ID_LENGTH: Final = 256  # longer is not an ID but a mistake; it stays under the app namespace
_MESSAGE_SCAN_CHARS: Final = 8192  # IDs sit near the start; a 1 MiB message must not cost 1 MiB
_TRACEPARENT_RE: Final = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?"
)
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


class CorrelateConfig(StageModel):
    """Extract correlation IDs (trace, span, transaction, request)."""

    type: Literal["correlate"] = "correlate"
    trace_id_keys: list[str] = Field(
        default_factory=lambda: ["trace_id", "traceId", "traceid", "otelTraceID", "x_trace_id"],
        description="Line keys whose value is `trace.id`, in order of preference.",
    )
    span_id_keys: list[str] = Field(
        default_factory=lambda: ["span_id", "spanId", "spanid", "otelSpanID"],
        description="Line keys whose value is `span.id`.",
    )
    transaction_id_keys: list[str] = Field(
        default_factory=lambda: ["transaction_id", "transactionId"],
        description="Line keys whose value is `transaction.id`.",
    )
    request_id_keys: list[str] = Field(
        default_factory=lambda: [
            "request_id",
            "requestId",
            "requestid",
            "req_id",
            "x_request_id",
            "x-request-id",
            "correlation_id",
            "correlationId",
            "x_correlation_id",
            "x-correlation-id",
        ],
        description="Line keys whose value is `http.request.id` (request and correlation IDs).",
    )
    traceparent_keys: list[str] = Field(
        default_factory=lambda: ["traceparent", "trace_parent", "traceParent"],
        description="Line keys holding a W3C `traceparent` header value.",
    )
    message_pattern: str | None = Field(
        None,
        description=(
            "Regex searched in the first 8 KiB of `message`, with named groups `trace_id`, "
            "`span_id`, `transaction_id`, `request_id` or `correlation_id` (e.g. "
            "`req=(?P<request_id>[0-9a-f-]{36})`). Fills only fields still empty."
        ),
    )
    inherit: bool = Field(
        False,
        description=(
            "A line without IDs takes those of the previous line of the same process/thread/"
            "task within `inherit_window_s`. Wrong for asyncio apps that do not log `taskName`."
        ),
    )
    inherit_window_s: float = Field(
        2.0, gt=0, description="How far apart (by `@timestamp`) inheriting lines may be, seconds."
    )
    inherit_max_keys: int = Field(
        10_000, ge=1, description="How many process/thread/task keys are remembered (LRU)."
    )

    @field_validator("message_pattern")
    @classmethod
    def _compiles_with_groups(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        compiled = compile_regex(pattern)
        if not set(compiled.groupindex) & set(_GROUPS):
            raise ValueError(f"needs at least one named group of {sorted(_GROUPS)}")
        return pattern

    @model_validator(mode="after")
    def _keys_used_once(self) -> CorrelateConfig:
        seen: dict[str, str] = {}
        for name in (
            "trace_id_keys",
            "span_id_keys",
            "transaction_id_keys",
            "request_id_keys",
            "traceparent_keys",
        ):
            for key in getattr(self, name):
                if key in seen and seen[key] != name:
                    raise ValueError(f"key {key!r} is in both {seen[key]} and {name}")
                seen[key] = name
        return self


def parse_traceparent(value: object) -> tuple[str, str] | None:
    """``(trace id, parent span id)`` of a valid W3C ``traceparent``, else ``None``."""
    if type(value) is not str:
        return None
    match = _TRACEPARENT_RE.fullmatch(value.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id


def place_id(event: Event, field: int, value: Any) -> bool:
    """Set ID ``field`` (``trace.id``…) to ``value`` if it is an ID and the field is free."""
    text = _as_id(value)
    if text is None:
        return False
    parent, leaf = _PARENTS[field]
    node = event  # set_path(), inlined: this runs for most lines
    for part in parent:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif type(child) is not dict:
            return False
        node = child
    if leaf in node:
        return False
    node[leaf] = text
    return True


def _as_id(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        text: str = value.strip()
        return text if text and len(text) <= _MAX_ID_LENGTH else None
    if kind is int:
        return str(value)
    return None


class Correlate:
    """The ``correlate`` stage."""

    __slots__ = (
        "_inherit",
        "_max_keys",
        "_namespace",
        "_pattern",
        "_recent",
        "_table",
        "_window_us",
    )

    def __init__(
        self, config: CorrelateConfig | None = None, context: PipelineContext | None = None
    ) -> None:
        config = config or CorrelateConfig()
        context = context or PipelineContext()
        self._namespace = context.namespace
        table: dict[str, int] = {}
        for field, keys in (
            (_TRACE, config.trace_id_keys),
            (_SPAN, config.span_id_keys),
            (_TRANSACTION, config.transaction_id_keys),
            (_REQUEST, config.request_id_keys),
            (_TRACEPARENT, config.traceparent_keys),
        ):
            for key in keys:
                table.setdefault(key, field)
        self._table = table
        self._pattern = re.compile(config.message_pattern) if config.message_pattern else None
        self._inherit = config.inherit
        self._window_us = round(config.inherit_window_s * 1_000_000)
        self._max_keys = config.inherit_max_keys
        self._recent: OrderedDict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = OrderedDict()

    def __call__(self, event: Event) -> Event:
        """Fill the correlation fields the line (or its thread's previous line) provides."""
        app = event.get(self._namespace)
        if type(app) is dict and app:
            table = self._table
            present = [key for key in app if key in table]
            if present:
                self._from_keys(event, app, present)
        if self._pattern is not None:
            self._from_message(event)
        if self._inherit:
            self._inherit_ids(event)
        return event

    def compile(self, keys: tuple[str, ...], fields: frozenset[str] | None) -> Compiled | None:
        """This stage for app objects with ``keys``: which of them are ID keys is known once.

        Only when the stage reads nothing but the line's keys (no ``message_pattern``, no
        ``inherit``) and none of them is a ``traceparent`` (whose value decides what stays).
        """
        if self._pattern is not None or self._inherit:
            return None
        table = self._table
        present = [key for key in keys if key in table]
        if any(table[key] == _TRACEPARENT for key in present):
            return None
        # With usual values, the first key of each ID field fills it; the others stay.
        firsts: list[str] = []
        filled: set[int] = set()
        for key in present:
            if table[key] not in filled:
                filled.add(table[key])
                firsts.append(key)
        rest = tuple(key for key in keys if key not in firsts)
        from_keys = self._from_keys

        def step(event: Event, app: dict[str, Any]) -> dict[str, Any] | None:
            if present and from_keys(event, app, present) != firsts:
                return None
            return app

        return Compiled(step, rest, None)

    def _from_keys(self, event: Event, app: dict[str, Any], present: list[str]) -> list[str]:
        """Move the IDs of the line's ``present`` ID keys (in line order), then traceparents;
        returns the keys moved (other than traceparents)."""
        table = self._table
        traceparents: list[str] = []
        taken: list[str] = []
        for key in present:
            field = table[key]
            if field == _TRACEPARENT:
                traceparents.append(key)
                continue
            if place_id(event, field, app[key]):
                del app[key]
                taken.append(key)
        for key in traceparents:
            self._traceparent(event, app, key)
        if not app:
            del event[self._namespace]
        return taken

    def _traceparent(self, event: Event, app: dict[str, Any], key: str) -> None:
        parsed = parse_traceparent(app[key])
        if parsed is None:
            add_tag(event, T.TRACEPARENT_INVALID)
            return
        trace_id, span_id = parsed
        set_path(event, _PATHS[_TRACE], trace_id)
        set_path(event, _PATHS[_SPAN], span_id)
        # Consumed only if the event now says the same; otherwise it carries other information.
        if (
            get_path(event, _PATHS[_TRACE]) == trace_id
            and get_path(event, _PATHS[_SPAN]) == span_id
        ):
            del app[key]

    def _from_message(self, event: Event) -> None:
        message = event.get("message")
        if type(message) is not str:
            return
        assert self._pattern is not None
        match = self._pattern.search(message, 0, _MESSAGE_SCAN_CHARS)
        if match is None:
            return
        for group, value in match.groupdict().items():
            field = _GROUPS.get(group)
            if field is not None and value:
                set_path(event, _PATHS[field], value)

    def _inherit_ids(self, event: Event) -> None:
        process = event.get("process")
        if type(process) is not dict:
            return
        thread = process.get("thread")
        thread_key = (
            (thread.get("id"), thread.get("name")) if type(thread) is dict else (None, None)
        )
        if thread_key == (None, None):
            return  # without a thread, "the same thread" would be every line of the process
        labels = event.get("labels")
        key = (
            get_path(event, ("host", "name")),
            process.get("pid", process.get("name")),
            thread_key,
            labels.get("task_name") if type(labels) is dict else None,
        )
        timestamp = event.get("@timestamp")
        at = utc_iso_to_epoch_us(timestamp) if type(timestamp) is str else None
        if at is None:
            return
        ids = tuple(get_path(event, path) for path in _PATHS)
        recent = self._recent
        if any(value is not MISSING for value in ids):
            recent[key] = (at, ids)
            recent.move_to_end(key)
            if len(recent) > self._max_keys:
                recent.popitem(last=False)
            return
        previous = recent.get(key)
        if previous is None or abs(at - previous[0]) > self._window_us:
            return
        for path, value in zip(_PATHS, previous[1], strict=True):
            if value is not MISSING:
                set_path(event, path, value)
        add_tag(event, T.CORRELATION_INHERITED)
