"""Elasticsearch answers as the indexer will use it: create with an _id, then search."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch


async def test_index_then_search_roundtrip(es: AsyncElasticsearch, es_index: str) -> None:
    created = await es.create(
        index=es_index,
        id="evt-1",
        document={"@timestamp": "2026-11-23T08:00:00Z", "message": "order 42 shipped"},
        refresh="wait_for",
    )
    assert created["result"] == "created"

    found = await es.search(index=es_index, q="message:shipped")
    hits = found["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["evt-1"]
    assert hits[0]["_source"]["message"] == "order 42 shipped"


async def test_create_twice_with_the_same_id_is_a_conflict(
    es: AsyncElasticsearch, es_index: str
) -> None:
    # The indexer relies on this: a replayed event is answered 409 and counted as already there.
    await es.create(index=es_index, id="evt-1", document={"message": "first"}, refresh="wait_for")
    again = await es.options(ignore_status=409).create(
        index=es_index, id="evt-1", document={"message": "second"}
    )
    assert again.meta.status == 409
    source = (await es.get(index=es_index, id="evt-1"))["_source"]
    assert source == {"message": "first"}


async def test_server_major_version_matches_the_client(es: AsyncElasticsearch) -> None:
    from elasticsearch import __versionstr__ as client_version

    nodes = await es.nodes.info(node_id="_local", filter_path="nodes.*.version")
    server_version = next(iter(nodes["nodes"].values()))["version"]
    assert server_version.split(".")[0] == client_version.split(".")[0]
