"""Dead letters: the document for a record that cannot be written as an event.

Pure. A dead letter keeps the record as it was (``event.original``, a string; the exact bytes in
``logferry.deadletter.original_base64`` when they are not UTF-8), why (``error.type``,
``error.message``, ``logferry.deadletter.reason``) and where it came from (topic, partition,
offset, key, and the index the event was meant for).

It goes to the daily dead-letter index of the day the record was *published* (its Kafka
timestamp; now, when that is outside the indexer's day window — a producer sets it), under the
event's id (or ``topic-partition-offset`` when it has none, or one Elasticsearch would not take):
a replayed record lands on the same ``_id`` in the same index, so a dead letter, too, is written
once.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any, Final

from pipelines.route import Router
from shipper.indexer.documents import (
    DayWindow,
    Document,
    KafkaRecord,
    NotAnEvent,
    inspect,
    usable_id,
    utc_iso,
)
from shipper.serialise import dumps_kept

__all__ = ["REASONS", "DeadLetters"]

REASONS: Final = ("rejected", "not_json", "schema", "indexer_error")
"""Why a record is a dead letter (the label of the metric): Elasticsearch refused the event for
good, the record is not a JSON object, it is not a logferry event of a known schema, or the
indexer failed on it (a bug: the record is kept rather than lost)."""


class DeadLetters:
    """Builds dead-letter documents for one dead-letter index pattern."""

    def __init__(
        self,
        router: Router,
        now: Callable[[], float] = time.time,
        days: DayWindow | None = None,
    ) -> None:
        self._router = router
        self._now = now
        self._days = days

    def __call__(
        self,
        record: KafkaRecord,
        reason: str,
        error_type: str,
        error_message: str,
        event_id: str | None,
        intended_index: str | None = None,
        service: str | None = None,
    ) -> Document:
        published = utc_iso(record.timestamp / 1000)
        value = record.value or b""
        try:
            original = value.decode("utf-8")
            exact: str | None = None
        except UnicodeDecodeError:
            original = value.decode("utf-8", "backslashreplace")
            exact = base64.b64encode(value).decode()
        source: dict[str, Any] = {
            "@timestamp": published,
            "event": {
                "original": original,
                "ingested": utc_iso(self._now()),
                "kind": "pipeline_error",
            },
            "error": {"type": error_type, "message": error_message},
            "logferry": {
                "deadletter": {
                    "reason": reason,
                    "index": intended_index,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key.decode("utf-8", "backslashreplace") if record.key else None,
                    **({"original_base64": exact} if exact is not None else {}),
                }
            },
        }
        doc_id = (
            event_id
            if event_id and usable_id(event_id)
            else f"{record.topic}-{record.partition}-{record.offset}"
        )
        if event_id:
            source["event"]["id"] = event_id
        if service:
            source["service"] = {"name": service}
        if self._days is not None and not self._days.accepts(published[:10]):
            published = utc_iso(self._now())  # routed by now: the producer chose the timestamp
        return Document(
            index=self._router.index_for({"@timestamp": published}),
            id=doc_id,
            source=dumps_kept(source),
            partition=record.partition,
            offset=record.offset,
            record=record,
            deadletter_reason=reason,
        )

    def rejected(self, document: Document, error_type: str, error_message: str) -> Document:
        """The dead letter of an event Elasticsearch refused for good.

        A spliced event (:mod:`shipper.indexer.documents`) reaches Elasticsearch unparsed: if its
        value turns out not to be an event at all, the dead letter is the one the parse path
        would have written (``not_json``, ``schema``): same reason, error, index and ``_id``.
        """
        record = document.record
        event = inspect(record.value)
        if isinstance(event, NotAnEvent):
            event_id = document.id if event.reason == "schema" else None
            return self(record, event.reason, event.error_type, event.message, event_id)
        return self(
            record,
            "rejected",
            error_type,
            error_message,
            document.id,
            document.index,
            _service_name(event),
        )

    def minimal(self, document: Document, error_type: str, error_message: str) -> Document:
        """A dead letter of a dead letter that was refused too: only the original and why."""
        record = document.record
        value = (record.value or b"").decode("utf-8", "backslashreplace")
        source = {
            "@timestamp": utc_iso(record.timestamp / 1000),
            "event": {"original": value},
            "error": {"type": error_type, "message": error_message[:2000]},
        }
        return Document(
            index=document.index,
            id=document.id,
            source=dumps_kept(source),
            partition=document.partition,
            offset=document.offset,
            record=record,
            deadletter_reason=document.deadletter_reason,
            last_resort=True,
        )


def _service_name(event: dict[str, Any]) -> str | None:
    service = event.get("service")
    name = service.get("name") if type(service) is dict else None
    return name if type(name) is str else None
