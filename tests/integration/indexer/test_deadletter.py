"""Documents Elasticsearch refuses for good, and records that are not events, go to the
dead-letter index with the original and the error; everything else lands normally."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from elasticsearch import AsyncElasticsearch

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

GOOD = 600


async def test_type_conflicts_and_bad_records_are_dead_lettered_with_original_and_error(
    kafka_bootstrap: str,
    kafka_topic: str,
    es: AsyncElasticsearch,
    names: Names,
    indexer_factory: Callable[..., IndexerProcess],
) -> None:
    factory = EventFactory("billing")
    # What the shipper sends: numbers first, then the same keys with other types. `status`
    # "abc" is tagged by the shipper (not mapped to http.response.status_code) and `app.*` is
    # one flattened field: neither conflicts, so all of these land normally.
    lines = [line(i, status=200 + i % 300, amount=i) for i in range(GOOD // 2)]
    lines += [line(i, status="abc", amount={"value": i}) for i in range(GOOD // 2, GOOD)]
    good = factory.events(lines)
    await publish(kafka_bootstrap, kafka_topic, good)

    # What Elasticsearch refuses for good: values its mapping cannot take.
    duration = orjson.loads(factory.events([line(GOOD)])[0].value)
    duration["event"]["duration"] = "abc"
    status = orjson.loads(factory.events([line(GOOD + 1)])[0].value)
    status["http"] = {"response": {"status_code": "teapot"}}
    refused = [orjson.dumps(duration), orjson.dumps(status)]
    # What is not an event at all.
    not_json = b'{"message": "cut in the mid'
    wrong_schema = factory.events([line(GOOD + 2)])[0].value
    await publish_raw(
        kafka_bootstrap,
        kafka_topic,
        [
            (refused[0], schema_headers(duration["event"]["id"])),
            (refused[1], schema_headers(status["event"]["id"])),
            (not_json, schema_headers("x-1")),
            (wrong_schema, [("logferry-schema", b"2")]),
        ],
    )

    indexer = indexer_factory()
    indexer.start()
    assert await wait_for_count(es, names.deadletters, 4, timeout_s=60) == 4, indexer.tail()
    assert await wait_for_count(es, names.logs, GOOD, timeout_s=60) == GOOD
    wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=30)
    assert await count(es, names.logs) == GOOD  # the refused ones are only dead letters

    letters = await documents(es, names.deadletters, fields=("event", "error", "logferry"))
    by_reason = {}
    for letter in letters:
        by_reason.setdefault(letter["logferry"]["deadletter"]["reason"], []).append(letter)
    assert sorted((r, len(v)) for r, v in by_reason.items()) == [
        ("not_json", 1),
        ("rejected", 2),
        ("schema", 1),
    ]
    originals = {letter["event"]["original"] for letter in letters}
    assert originals == {r.decode() for r in [*refused, not_json, wrong_schema]}
    for letter in by_reason["rejected"]:
        assert letter["error"]["type"] == "document_parsing_exception"
        assert "failed to parse" in letter["error"]["message"]
        assert letter["logferry"]["deadletter"]["index"] == names.index_of("billing", 0)
        assert letter["_id"] == letter["event"]["id"]
    (schema,) = by_reason["schema"]
    assert "logferry-schema header '2'" in schema["error"]["message"]

    assert indexer.metric("logferry_indexer_dead_letters_total", reason="rejected") == 2
    assert indexer.metric("logferry_indexer_dead_letters_total", reason="not_json") == 1
    assert indexer.metric("logferry_indexer_dead_letters_total", reason="schema") == 1
    assert indexer.metric("logferry_indexer_documents_rejected_total") == 2
    assert indexer.metric("logferry_indexer_documents_indexed_total") == GOOD

    mapping = await es.indices.get_mapping(index=names.index_of("billing", 0))
    (properties,) = (m["mappings"]["properties"] for m in mapping.body.values())
    assert properties["app"]["type"] == "flattened"
    assert properties["event"]["properties"]["duration"]["type"] == "long"
    assert indexer.stop() == 0
