"""Records carrying the routing headers are written as their own bytes plus `event.ingested`, and
Elasticsearch reads that dotted key as the `event.ingested` date; records without the headers are
parsed; look-alikes Elasticsearch cannot read are dead letters, as parsing would have made them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from elasticsearch import AsyncElasticsearch

from shipper.sinks.headers import route_headers
from tests.integration.indexer.support import (
    EventFactory,
    IndexerProcess,
    Names,
    count,
    documents,
    line,
    publish_raw,
    schema_headers,
    wait_for_count,
)
from tests.integration.support import wait_for

SPLICED = 150
PARSED = 150


def routed(value: bytes) -> list[tuple[str, bytes]]:
    """The headers a shipper sends with *value*."""
    event = orjson.loads(value)
    return [*schema_headers(event["event"]["id"]), *route_headers(event)]


async def test_spliced_and_parsed_records_give_the_same_searchable_documents(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    factory = EventFactory("payments")
    events = factory.events(
        line(i, days_ago=1 if i % 3 == 0 else 0, message=f'é {i} "quoted" 🚀')
        for i in range(SPLICED + PARSED)
    )
    spliced = [(e.value, routed(e.value)) for e in events[:SPLICED]]
    parsed = [(e.value, schema_headers(e.event_id)) for e in events[SPLICED:]]
    refused = orjson.loads(factory.events([line(SPLICED + PARSED)])[0].value)
    refused["event"]["duration"] = "abc"  # a long in the template: refused for good
    refused_value = orjson.dumps(refused)
    lookalike = b'{"message": "cut", "seq": }'  # braces, one line, not JSON
    array = b"[1, 2]"
    day = [("logferry-day", datetime.now(UTC).strftime("%Y-%m-%d").encode())]
    bad: list[tuple[bytes | None, list[tuple[str, bytes]]]] = [
        (refused_value, routed(refused_value)),
        (lookalike, [*schema_headers("look-1"), *day]),
        (array, [*schema_headers("array-1"), *day]),
    ]
    started = datetime.now(UTC) - timedelta(seconds=1)
    await publish_raw(kafka_bootstrap, kafka_topic, [*spliced, *parsed, *bad])

    indexer = indexer_factory()
    indexer.start()
    total = SPLICED + PARSED
    assert await wait_for_count(es, names.logs, total, timeout_s=60) == total, indexer.tail()
    assert await wait_for_count(es, names.deadletters, 3, timeout_s=60) == 3, indexer.tail()
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)

    # Each in its own day's index under its event.id, with the original fields as they were.
    await es.indices.refresh(index=names.logs)
    response = await es.search(index=names.logs, size=total, sort=["_doc"])
    docs = {h["_id"]: {"_index": h["_index"], **h["_source"]} for h in response["hits"]["hits"]}
    assert len(docs) == total
    for n, event in enumerate(events):
        doc = docs.pop(event.event_id)
        original = orjson.loads(event.value)
        assert doc["_index"] == names.index_of("payments", 1 if n % 3 == 0 else 0)
        source = {k: v for k, v in doc.items() if k != "_index"}
        # Spliced: the record's bytes plus one dotted key. Parsed: inside the event object.
        ingested = source.pop("event.ingested") if n < SPLICED else source["event"].pop("ingested")
        assert source == original
        assert started <= datetime.fromisoformat(ingested) <= datetime.now(UTC)

    # Elasticsearch reads both as the same date field: searchable, in the fields API, a date.
    hits = await es.search(
        index=names.logs,
        query={"range": {"event.ingested": {"gte": started.isoformat()}}},
        fields=["event.ingested"],
        source=False,
        size=total,
    )
    assert hits["hits"]["total"]["value"] == total
    assert all(len(h["fields"]["event.ingested"]) == 1 for h in hits["hits"]["hits"])
    days = ",".join(names.index_of("payments", days_ago) for days_ago in (0, 1))
    mapping = await es.indices.get_field_mapping(index=days, fields="event.ingested")
    assert len(mapping.body) == 2
    for index in mapping.body.values():
        assert index["mappings"]["event.ingested"]["mapping"]["ingested"]["type"] == "date"

    # What Elasticsearch refused, and what only looked like an object: dead letters, originals kept.
    letters = await documents(es, names.deadletters, fields=("event", "error", "logferry"))
    by_original = {letter["event"]["original"]: letter for letter in letters}
    assert set(by_original) == {refused_value.decode(), lookalike.decode(), array.decode()}
    assert by_original[refused_value.decode()]["logferry"]["deadletter"]["reason"] == "rejected"
    assert by_original[refused_value.decode()]["_id"] == refused["event"]["id"]
    look = by_original[lookalike.decode()]
    assert look["logferry"]["deadletter"]["reason"] == "not_json"
    assert look["error"]["type"] == "json_parse_exception"
    assert by_original[array.decode()]["error"]["type"] == "not_an_object"

    assert indexer.metric("logferry_indexer_documents_indexed_total") == total
    # Parsed: the records without routing headers, and the array (not `{…}`: never spliced).
    assert indexer.metric("logferry_indexer_records_parsed_total") == PARSED + 1
    assert indexer.metric("logferry_indexer_documents_rejected_total") == 1
    assert indexer.metric("logferry_indexer_dead_letters_total", reason="rejected") == 1
    assert indexer.metric("logferry_indexer_dead_letters_total", reason="not_json") == 2
    assert await count(es, names.logs) == total
    assert indexer.stop() == 0
