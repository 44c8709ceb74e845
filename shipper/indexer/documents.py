"""Kafka record -> the document to write: an event for its daily index, or a dead letter.

Pure. A record becomes exactly one :class:`Document` — never none — so every offset is settled
by exactly one bulk item. Two ways to the same document:

* **Spliced** (the shipper's records; no parsing). A record whose headers
  (:mod:`shipper.sinks.headers`) carry the schema, the ``event.id`` and the routing inputs
  (``logferry-day``, ``logferry-service``) is written as the bytes it holds: the index is named
  from the headers with the same :class:`~pipelines.route.Router` (cached per service and day),
  the ``_id`` is the ``event.id`` header, and ``event.ingested`` is spliced in as a top-level
  dotted key before the closing brace — ``{…,"event.ingested":"2026-11-23T09:43:20.123Z"}``.
  Elasticsearch maps a dotted key as the path it names (the field is ``event.ingested``, a
  ``date``, next to the rest of the ``event`` object; searches, aggregations and the fields API
  see no difference); only ``_source`` shows the key dotted, beside the ``event`` object. Every
  other byte is the record's. The value must look like one JSON object on one line (``{`` …
  ``}``, no newline: the bulk body is NDJSON) and must not mention ``ingested"`` (an event that
  already has an ``event.ingested`` is parsed, so the value is replaced, not doubled).
  Whether it *is* valid JSON, Elasticsearch finds out: a value it cannot parse is refused for
  that item alone, and :meth:`~shipper.indexer.deadletter.DeadLetters.rejected` then classifies
  it (:func:`inspect`) exactly as the parse path would have — a dead letter, never lost.
* **Parsed** (records without ``logferry-day``: older shippers, other tools). The value is
  checked (JSON, an object, an ``event.id``), routed with :meth:`~pipelines.route.Router.index_for`,
  stamped with ``event.ingested`` inside its ``event`` object and re-serialised.

Anything that is not an event — an unknown schema, a value that is not a JSON object, no
``event.id``, or one Elasticsearch cannot take as an ``_id`` (longer than 512 bytes) — becomes a
dead letter (:mod:`shipper.indexer.deadletter`).

Data never names an index outside the :class:`DayWindow` (from ``retention.days`` before now to
``index.timestamp_max_ahead_days`` after): a record routed to a day outside it is parsed, and its
event is treated as the shipper's ``timestamp`` stage treats such a line — the original
``@timestamp`` kept as ``app.@timestamp``, ``@timestamp`` set to the read time
(``event.created``, or now when that is outside the window too), tagged
``_timestamp_out_of_range`` and counted. So the number of daily indices data can create is
bounded, and an event dated 1970 is not written to an index retention deletes at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol

import orjson

from pipelines.route import Router, event_day
from pipelines.tags import TIMESTAMP_OUT_OF_RANGE
from pipelines.timestamps import TimeWindow
from shipper.serialise import dumps_kept
from shipper.sinks.headers import DAY_HEADER, EVENT_ID_HEADER, SCHEMA_HEADER, SERVICE_HEADER
from shipper.sinks.kafka import SCHEMA_VERSION

__all__ = [
    "EVENT_ID_HEADER",
    "MAX_ID_BYTES",
    "SCHEMA_HEADER",
    "DayWindow",
    "Decoder",
    "Document",
    "KafkaRecord",
    "NotAnEvent",
    "inspect",
    "utc_iso",
]

_CACHE_MAX: Final = 4096
MAX_ID_BYTES: Final = 512
"""Elasticsearch refuses a longer ``_id`` — for the whole bulk request, not the item alone."""
_UNUSABLE: Final = ("", b"")
"""Cached for routing headers the router cannot use: such records take the parse path."""


class KafkaRecord(Protocol):
    """The parts of a consumed record the indexer uses. aiokafka's ``ConsumerRecord`` has them:
    records are decoded as consumed, not copied into a record of our own first (a copy per
    record was ~5 % of the indexer's CPU)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...
    @property
    def timestamp(self) -> int:
        """When the record was appended (the producer's clock), in epoch milliseconds."""
        ...


@dataclass(slots=True)
class Document:
    """One bulk ``create``: where, under which id, what; and the record it settles."""

    index: str
    id: str
    source: bytes
    partition: int
    offset: int
    record: KafkaRecord
    deadletter_reason: str | None = None
    """``None`` for an event; else why it is a dead letter (a metric label)."""
    last_resort: bool = False
    """A minimal dead letter, written after the full one was refused too."""
    action: bytes = b""
    """The action line, ``{"create":{"_index":…,"_id":…}}`` (built from index and id when empty)."""

    def __post_init__(self) -> None:
        if not self.action:
            self.action = dumps_kept({"create": {"_index": self.index, "_id": self.id}})

    @property
    def size(self) -> int:
        """Bytes this document adds to a bulk body (action line, source, two newlines)."""
        return len(self.action) + len(self.source) + 2


@dataclass(frozen=True, slots=True)
class NotAnEvent:
    """Why a record's value is not an event: the dead letter's reason, error type and message."""

    reason: str
    error_type: str
    message: str


def inspect(value: bytes | None) -> dict[str, Any] | NotAnEvent:
    """The event in *value* (a JSON object with a non-empty string ``event.id``), or why not."""
    if value is None:
        return NotAnEvent("not_json", "empty_record", "the record has no value")
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return NotAnEvent("not_json", "json_parse_exception", str(exc))
    if type(event) is not dict:
        return NotAnEvent(
            "not_json", "not_an_object", f"a JSON {type(event).__name__}, not an object"
        )
    meta = event.get("event")
    event_id = meta.get("id") if type(meta) is dict else None
    if type(event_id) is not str or not event_id:
        return NotAnEvent("schema", "logferry_schema_mismatch", "the event has no event.id")
    if not usable_id(event_id):
        return NotAnEvent("schema", "logferry_schema_mismatch", _long_id_message(event_id))
    return event


def usable_id(event_id: str) -> bool:
    """Whether Elasticsearch takes *event_id* as an ``_id`` (at most 512 bytes of UTF-8)."""
    return (
        len(event_id) <= MAX_ID_BYTES // 4 or len(event_id.encode(errors="replace")) <= MAX_ID_BYTES
    )


def _long_id_message(event_id: str) -> str:
    size = len(event_id.encode(errors="replace"))
    return f"event.id is {size} bytes; Elasticsearch takes at most {MAX_ID_BYTES} as an _id"


class DayWindow:
    """The UTC days data may name an index for: ``max_age_days`` before now to
    ``max_ahead_days`` after (to the minute), so records cannot create indices without bound."""

    __slots__ = ("_minute", "_now", "_window", "high", "high_bytes", "low", "low_bytes")

    def __init__(
        self,
        max_age_days: float,
        max_ahead_days: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._window = TimeWindow(max_age_days, max_ahead_days)
        self._now = now
        self._minute = -1
        self.low = self.high = ""
        self.low_bytes = self.high_bytes = b""
        self.refresh(now())

    def refresh(self, now_s: float) -> None:
        """Move the window to *now_s* (epoch seconds; cheap within a minute)."""
        minute = int(now_s // 60)
        if minute != self._minute:
            self._minute = minute
            self._window.at_epoch_us(minute * 60_000_000)
            self.low, self.high = self._window.low[:10], self._window.high[:10]
            self.low_bytes, self.high_bytes = self.low.encode(), self.high.encode()

    def accepts(self, day: str) -> bool:
        """Whether ``YYYY-MM-DD`` *day* is inside the window now."""
        self.refresh(self._now())
        return self.low <= day <= self.high


def utc_iso(epoch_s: float) -> str:
    """``2026-11-23T08:00:00.123Z``."""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class Decoder:
    """Turns records into documents; *deadletter* builds the document for a bad record."""

    def __init__(
        self,
        router: Router,
        deadletter: Callable[[KafkaRecord, str, str, str, str | None], Document],
        now: Callable[[], float] = time.time,
        days: DayWindow | None = None,
    ) -> None:
        self._router = router
        self._deadletter = deadletter
        self._now = now
        self._days = days
        """The days an event may be routed to; ``None``: any (tools and tests)."""
        self._routes: dict[tuple[bytes, bytes | None], tuple[str, bytes]] = {}
        """(day, service) headers -> (index, the action line up to the ``_id`` value)."""
        self._ingested_ms = -1
        self._ingested = ""
        self._ingested_tail = b""
        self.parsed = 0
        """Records that took the parse path (the runner moves this into a metric)."""
        self.out_of_range = 0
        """Events whose time was outside the day window (the runner moves this into a metric)."""

    def decode(self, record: KafkaRecord) -> Document:
        headers = dict(record.headers)
        schema = headers.get(SCHEMA_HEADER)
        if schema != SCHEMA_VERSION:
            shown = "missing" if schema is None else repr(schema.decode("utf-8", "replace"))
            return self._deadletter(
                record,
                "schema",
                "logferry_schema_mismatch",
                f"{SCHEMA_HEADER} header {shown}; this indexer reads version {SCHEMA_VERSION.decode()}",
                None,
            )
        day = headers.get(DAY_HEADER)
        if day is not None:
            document = self._splice(record, headers, day)
            if document is not None:
                return document
        return self._parse(record, headers)

    def _splice(
        self, record: KafkaRecord, headers: dict[str, bytes], day: bytes
    ) -> Document | None:
        """The document of a record carrying its routing headers, or None to parse it instead."""
        value = record.value
        event_id = headers.get(EVENT_ID_HEADER)
        if (
            not event_id
            or value is None
            or not value.startswith(b"{")
            or not value.endswith(b"}")
            or b"\n" in value
            or b'ingested"' in value
            or len(event_id) > MAX_ID_BYTES
        ):
            return None
        tail = self._ingested_suffix()  # also moves the day window
        days = self._days
        if days is not None and not days.low_bytes <= day <= days.high_bytes:
            return None  # parsed, and its time replaced there
        key = (day, headers.get(SERVICE_HEADER))
        route = self._routes.get(key)
        if route is None:
            route = self._route(key)
        if route is _UNUSABLE:
            return None
        try:
            doc_id = event_id.decode()
        except UnicodeDecodeError:
            return None
        index, action_head = route
        return Document(
            index=index,
            id=doc_id,
            source=value[:-1] + tail,
            partition=record.partition,
            offset=record.offset,
            record=record,
            action=action_head + orjson.dumps(doc_id) + b"}}",
        )

    def _route(self, key: tuple[bytes, bytes | None]) -> tuple[str, bytes]:
        """Name the index of a (day, service) header pair once; _UNUSABLE if it is malformed."""
        day_bytes, service_bytes = key
        route = _UNUSABLE
        try:
            day = day_bytes.decode("ascii")
            service = None if service_bytes is None else service_bytes.decode()
            valid = len(day) == 10 and date.fromisoformat(day).isoformat() == day
        except ValueError:  # UnicodeDecodeError too
            valid = False
        if valid:
            index = self._router.index_for_day(service, day)
            head = orjson.dumps({"create": {"_index": index, "_id": None}})
            route = (index, head[: -len(b"null}}")])
        if len(self._routes) >= _CACHE_MAX:
            self._routes.clear()
        self._routes[key] = route
        return route

    def _ingested_suffix(self) -> bytes:
        """``,"event.ingested":"<now>"}`` (rebuilt when the millisecond changes)."""
        self._ingested_now()
        return self._ingested_tail

    def _ingested_now(self) -> str:
        now = self._now()
        ms = int(now * 1000)
        if ms != self._ingested_ms:
            self._ingested_ms = ms
            self._ingested = utc_iso(now)
            self._ingested_tail = b',"event.ingested":"' + self._ingested.encode() + b'"}'
            if self._days is not None:
                self._days.refresh(now)
        return self._ingested

    def _parse(self, record: KafkaRecord, headers: dict[str, bytes]) -> Document:
        self.parsed += 1
        event = inspect(record.value)
        if isinstance(event, NotAnEvent):
            header_id = headers.get(EVENT_ID_HEADER) if event.reason == "schema" else None
            return self._deadletter(
                record,
                event.reason,
                event.error_type,
                event.message,
                header_id.decode("utf-8", "replace") if header_id else None,
            )
        meta = event["event"]
        ingested = self._ingested_now()
        days = self._days
        if days is not None:
            day = event_day(event)
            if day is not None and not days.low <= day <= days.high:
                self._out_of_window(event, meta, ingested)
        index = self._router.index_for(event)
        meta["ingested"] = ingested
        return Document(
            index=index,
            id=meta["id"],
            source=dumps_kept(event),  # held until its bulk is answered
            partition=record.partition,
            offset=record.offset,
            record=record,
        )

    def _out_of_window(self, event: dict[str, Any], meta: dict[str, Any], ingested: str) -> None:
        """What the ``timestamp`` stage does with a line dated outside its window: the original
        time kept under ``app``, the read time (or now) as ``@timestamp``, tagged."""
        self.out_of_range += 1
        original = event.pop("@timestamp", None)
        app = event.get("app")
        if app is None:
            app = event["app"] = {}
        if type(app) is dict and original is not None:
            app.setdefault("@timestamp", original)
        created = meta.get("created")
        day = event_day({"@timestamp": created})
        days = self._days
        event["@timestamp"] = (
            created if day is not None and days is not None and days.accepts(day) else ingested
        )
        tags = event.get("tags")
        if type(tags) is list:
            if TIMESTAMP_OUT_OF_RANGE not in tags:
                tags.append(TIMESTAMP_OUT_OF_RANGE)
        else:
            event["tags"] = (
                [TIMESTAMP_OUT_OF_RANGE] if tags is None else [tags, TIMESTAMP_OUT_OF_RANGE]
            )
