"""The Kafka record headers of a logferry event: what the shipper sends, what the indexer reads.

======================  ===========================================================================
header                  value (bytes)
======================  ===========================================================================
``event.id``            the event's ``event.id`` (UTF-8): the Elasticsearch ``_id``
``logferry-schema``     ``1`` (:data:`shipper.sinks.kafka.SCHEMA_VERSION`)
``logferry-day``        the UTC day the event is routed by, ASCII ``YYYY-MM-DD``: the day of its
                        ``@timestamp``, else of its ``event.created``
                        (:func:`pipelines.route.event_day`); absent when neither is usable
``logferry-service``    the event's ``service.name`` as it is in the event (UTF-8, not sanitised,
                        possibly empty); absent when the event has no string ``service.name``
======================  ===========================================================================

``logferry-day`` and ``logferry-service`` are what :meth:`pipelines.route.Router.index_for` reads
from an event, so the indexer names the daily index — with *its* configured pattern — without
parsing the record, and a replayed record lands in the same index. A producer sends them only
together with an ``event.id`` header equal to the event's own ``event.id``, and only for a value
that is one JSON object on one line (what ``orjson.dumps`` of an event gives): the indexer writes
such a record's bytes as they are (adding ``event.ingested``). A record without ``logferry-day``
(an older shipper, another tool) is parsed as before; both give the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pipelines.route import event_day

__all__ = ["DAY_HEADER", "EVENT_ID_HEADER", "SCHEMA_HEADER", "SERVICE_HEADER", "route_headers"]

EVENT_ID_HEADER: Final = "event.id"
SCHEMA_HEADER: Final = "logferry-schema"
DAY_HEADER: Final = "logferry-day"
SERVICE_HEADER: Final = "logferry-service"


def route_headers(event: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The ``logferry-day`` and ``logferry-service`` headers of *event*.

    None for an event without a usable day or without a non-empty string ``event.id``: the
    indexer parses such a record (and dead-letters it if it has no ``event.id``).
    """
    meta = event.get("event")
    event_id = meta.get("id") if type(meta) is dict else None
    if type(event_id) is not str or not event_id:
        return []
    day = event_day(event)
    if day is None:
        return []
    headers = [(DAY_HEADER, day.encode())]
    service = event.get("service")
    name = service.get("name") if type(service) is dict else None
    if type(name) is str:
        headers.append((SERVICE_HEADER, name.encode("utf-8", "surrogatepass")))
    return headers
