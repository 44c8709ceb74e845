"""Issue 11, items 6 and 7, against the real Kafka and Elasticsearch: records a non-logferry
producer can put on the topic end as a document or a dead letter, never hold a partition back,
and never name an index outside the day window. One indexer run, about 10 s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord
from elasticsearch import AsyncElasticsearch

from pipelines.route import RouteConfig, Router
from shipper.backoff import Backoff
from shipper.indexer.bulk import BulkWriter
from shipper.indexer.deadletter import DeadLetters
from shipper.indexer.documents import Document
from shipper.indexer.metrics import IndexerMetrics
from tests.integration.indexer.support import (
    EventFactory,
    IndexerProcess,
    Names,
    count,
    documents,
    line,
    publish,
    publish_raw,
    schema_headers,
    wait_for_count,
)
from tests.integration.support import wait_for

GOOD = 200


def routed(value: bytes, event_id: str, day: str) -> list[tuple[str, bytes]]:
    return [
        *schema_headers(event_id),
        ("logferry-day", day.encode()),
        ("logferry-service", b"billing"),
    ]


async def test_issue11_item7_and_item6_hostile_records_settle_and_stay_in_the_window(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    factory = EventFactory("billing")
    half = GOOD // 2
    await publish(kafka_bootstrap, kafka_topic, factory.events(line(i) for i in range(half)))
    long_id = "x" * 600  # Elasticsearch refuses the whole bulk request for it
    long = orjson.dumps({"@timestamp": "2026-01-01T00:00:00Z", "event": {"id": long_id}})
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    hostile: list[tuple[bytes | None, list[tuple[str, bytes]]]] = [
        (long, routed(long, long_id, "2026-01-01")),
        (long, schema_headers(long_id)),  # the same without routing headers: parsed
    ]
    for n, (stamp, day) in enumerate(
        [("1970-01-01T00:00:00.000Z", "1970-01-01"), ("5138-11-16T09:46:40.000Z", "5138-11-16")]
    ):
        value = orjson.dumps(
            {
                "@timestamp": stamp,
                "message": f"dated {day}",
                "service": {"name": "billing"},
                "event": {"id": f"dated-{n}", "created": created},
            }
        )
        hostile.append((value, routed(value, f"dated-{n}", day)))
    await publish_raw(kafka_bootstrap, kafka_topic, hostile)
    await publish(kafka_bootstrap, kafka_topic, factory.events(line(i) for i in range(half, GOOD)))

    indexer = indexer_factory()
    indexer.start()
    assert await wait_for_count(es, names.logs, GOOD + 2, timeout_s=60) == GOOD + 2, indexer.tail()
    assert await wait_for_count(es, names.deadletters, 2, timeout_s=30) == 2, indexer.tail()
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)

    # Item 6: no index of 1970 or 5138; both events in today's index, original time kept, tagged.
    today = names.index_of("billing", 0)
    resolved = await es.indices.resolve_index(name=f"{names.prefix}-*")
    assert sorted(entry["name"] for entry in resolved["indices"]) == sorted(
        {today, names.deadletters.replace("*", datetime.now(UTC).strftime("%Y.%m.%d"))}
    )
    dated = await documents(es, today, fields=("@timestamp", "app", "tags", "message"))
    out = {d["message"]: d for d in dated if str(d.get("message", "")).startswith("dated")}
    assert sorted(out) == ["dated 1970-01-01", "dated 5138-11-16"]
    for doc in out.values():
        assert doc["@timestamp"] == created
        assert doc["tags"] == ["_timestamp_out_of_range"]
    assert out["dated 1970-01-01"]["app"] == {"@timestamp": "1970-01-01T00:00:00.000Z"}
    assert indexer.metric("logferry_indexer_timestamps_out_of_range_total") == 2

    # Item 7: the long-id records are dead letters (under an _id Elasticsearch takes), the rest
    # of the partition is written and committed.
    letters = await documents(es, names.deadletters, fields=("event", "logferry"))
    assert [letter["event"]["id"] for letter in letters] == [long_id, long_id]
    assert {letter["logferry"]["deadletter"]["reason"] for letter in letters} == {"schema"}
    assert await count(es, names.logs) == GOOD + 2
    assert indexer.metric("logferry_indexer_dead_letters_total", reason="schema") == 2
    assert indexer.stop() == 0


async def test_issue11_item7_a_bulk_elasticsearch_refuses_whole_is_split_to_the_one_at_fault(
    es: AsyncElasticsearch, names: Names
) -> None:
    """The mechanism under the validation: whatever makes the real cluster refuse a whole bulk
    request, exactly the document at fault is dead-lettered."""
    router = Router(RouteConfig(index_pattern=names.index_pattern))
    deadletters = DeadLetters(Router(RouteConfig(index_pattern=names.deadletter_pattern)))

    def doc(offset: int, event_id: str) -> Document:
        value = orjson.dumps({"message": f"m{offset}", "event": {"id": event_id}})
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        record = ConsumerRecord("t", 0, offset, now_ms, 0, None, value, None, -1, len(value), ())
        index = router.index_for({"@timestamp": datetime.now(UTC).isoformat()})
        return Document(index, event_id, value, 0, offset, record)

    batch = [doc(i, f"ok-{i}") for i in range(7)]
    batch.insert(3, doc(7, "y" * 513))
    metrics = IndexerMetrics()
    writer = BulkWriter(es, deadletters, metrics, lambda: Backoff(0.05, 0.1))
    settled = await writer.write(batch)
    assert settled == batch
    assert await count(es, names.logs) == 7
    letters = await documents(es, names.deadletters, fields=("event", "error"))
    assert len(letters) == 1
    assert letters[0]["_id"] == "t-0-7"
    # Classified as the decoder would have (an event.id Elasticsearch cannot take).
    assert letters[0]["error"]["type"] == "logferry_schema_mismatch"
    assert "513 bytes" in letters[0]["error"]["message"]
    assert metrics.registry.get_sample_value("logferry_indexer_documents_indexed_total") == 7
