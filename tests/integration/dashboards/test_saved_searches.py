"""Every saved search of dashboards/kibana/ finds exactly the lines it promises, and the
dashboard's aggregations answer, in the real Elasticsearch over data from a real short run:
app log lines -> `shipper run` -> Kafka -> `shipper index` -> daily indices (+ dead letters).

Each query is run as Kibana runs a Lucene query: ``query_string`` against the index pattern of
the search's data view. The test's indices live under its own prefix instead of ``app-logs``
(an index template on ``app-logs-*-*`` already exists in a shared cluster, and two templates of
one priority may not overlap), so every ``app-logs`` in a data view's pattern or a query is read
as that prefix: ``<prefix>-*`` then holds the test's logs *and* its dead letters, exactly as
``app-logs-*`` does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import AsyncElasticsearch

from shipper.indexer.kibana import SavedObject, load_saved_objects
from tests.integration.indexer.support import (
    IndexerProcess,
    Names,
    delete_prefix,
    publish_raw,
    schema_headers,
    wait_for_count,
)
from tests.integration.support import ShipperProcess, wait_for

OBJECTS = {(o.type, o.id): o for o in load_saved_objects()}
FAST_INPUT = {"scan_interval_s": 0.2, "poll_interval_s": 0.05, "partial_timeout_s": 1.0}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST = "req-only-7"
STACK = 'Traceback (most recent call last):\n  File "app/pay.py", line 12, in charge\n'


def record(seq: int, message: str, level: str = "INFO", **extra: Any) -> dict[str, Any]:
    when = datetime.now(UTC) - timedelta(minutes=30) + timedelta(seconds=seq)
    return {
        "asctime": when.strftime("%Y-%m-%d %H:%M:%S,000"),
        "levelname": level,
        "name": "app.checkout",
        "message": message,
        **extra,
    }


def app_lines() -> tuple[list[bytes], dict[str, list[str]]]:
    """The log file's lines, and for each saved search the messages it must find (sorted)."""
    records = [
        record(1, "GET /orders ok", trace_id=TRACE, duration_ms=20, status=200, method="GET"),
        record(2, "GET /cart ok", request_id=REQUEST, duration_ms=40, status=200, method="GET"),
        record(3, "GET /items ok", duration_ms=60, status=200, method="GET", path="/items"),
        record(4, "cache warmed"),
        record(5, "disk almost full", "WARNING"),
        record(
            6,
            "charge failed",
            "ERROR",
            trace_id=TRACE,
            exc_info=STACK + "ValueError: bad amount 42",
        ),
        record(7, "charge failed", "ERROR", exc_info=STACK + "ValueError: bad amount 1337"),
        record(8, "worker died", "CRITICAL", exc_info=STACK + "KeyError: 'user'"),
        record(9, "GET /report slow", trace_id=TRACE, duration_ms=1500, status=200, method="GET"),
        record(10, "GET /export at the limit", duration_ms=1000, status=200, method="GET"),
    ]
    bad = [b"Traceback (not JSON): something broke", b"[1, 2, 3]"]
    lines = [orjson.dumps(r) for r in records] + bad
    expected = {
        "logferry-errors-by-service": ["charge failed", "charge failed", "worker died"],
        "logferry-trace": ["GET /orders ok", "GET /report slow", "charge failed"],
        "logferry-slow-requests": ["GET /report slow"],  # 1000 ms is not > 1 s
        "logferry-parse-failures": sorted(b.decode() for b in bad),
    }
    return [line + b"\n" for line in lines], expected


def localise(text: str, prefix: str) -> str:
    """``app-logs`` (the default index prefix) as the test's own prefix."""
    return text.replace("app-logs", prefix)


def search_source(obj: SavedObject) -> dict[str, Any]:
    source: dict[str, Any] = orjson.loads(
        obj.attributes["kibanaSavedObjectMeta"]["searchSourceJSON"]
    )
    return source


def data_view_pattern(obj: SavedObject, prefix: str) -> str:
    (ref,) = [r for r in obj.references if r["type"] == "index-pattern"]
    return localise(OBJECTS[("index-pattern", ref["id"])].attributes["title"], prefix)


def lucene(query: str) -> dict[str, Any]:
    """What Kibana sends for a Lucene query (its default query:queryString:options)."""
    return {"query_string": {"query": query, "analyze_wildcard": True}}


async def hits(es: AsyncElasticsearch, index: str, query: str) -> list[dict[str, Any]]:
    response = await es.search(index=index, query=lucene(query), size=1000, expand_wildcards="open")
    return [{"_index": h["_index"], **h["_source"]} for h in response["hits"]["hits"]]


@pytest.fixture
def names() -> Names:
    return Names(f"lf-kb{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def cleanup(es: AsyncElasticsearch, names: Names) -> AsyncIterator[None]:
    yield
    await delete_prefix(es, names.prefix)


@pytest.fixture
def processes() -> Iterator[list[ShipperProcess | IndexerProcess]]:
    started: list[ShipperProcess | IndexerProcess] = []
    yield started
    for process in started:
        process.stop()


async def test_every_saved_search_finds_exactly_its_lines(
    tmp_path: Path,
    kafka_bootstrap: str,
    kafka_topic: str,
    elasticsearch_url: str,
    es: AsyncElasticsearch,
    names: Names,
    cleanup: None,
    processes: list[Any],
) -> None:
    service = f"checkout-{uuid.uuid4().hex[:6]}"
    lines, expected = app_lines()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"".join(lines))

    shipper = ShipperProcess(
        tmp_path,
        {
            "input": {"paths": [str(logs / "app.log")], **FAST_INPUT},
            "output": {"url": f"kafka://{kafka_bootstrap}/{kafka_topic}"},
            "service": {"name": service},
        },
    )
    processes.append(shipper)
    shipper.start()
    wait_for(
        lambda: shipper.metric("logferry_shipper_events_published_total") >= len(lines),
        timeout_s=60,
    )

    # Dead letters: an error event Elasticsearch refuses (a status code that is no number) and a
    # record that is not JSON, straight on the topic.
    refused = record(11, "refused on purpose", "ERROR", exc_info=STACK + "ValueError: x")
    event = {
        "@timestamp": datetime.now(UTC).isoformat(),
        "message": refused["message"],
        "log": {"level": "error"},
        "service": {"name": service},
        "error": {"type": "ValueError", "grouping_key": "deadbeef"},
        "trace": {"id": TRACE},
        "event": {"id": f"refused-{service}", "duration": 5_000_000_000},
        "http": {"response": {"status_code": "teapot"}},
    }
    await publish_raw(
        kafka_bootstrap,
        kafka_topic,
        [
            (orjson.dumps(event), schema_headers(event["event"]["id"])),
            (b'{"message": "cut in the mid', schema_headers("x-1")),
        ],
    )

    indexer = IndexerProcess(
        tmp_path, names.config(kafka_bootstrap, kafka_topic, elasticsearch_url)
    )
    processes.append(indexer)
    indexer.start()
    assert await wait_for_count(es, names.logs, len(lines)) == len(lines), indexer.tail()
    assert await wait_for_count(es, names.deadletters, 2) == 2, indexer.tail()
    await es.indices.refresh(index=f"{names.prefix}-*")
    # The dead letters are in the app logs' pattern too (an error with a trace id and a 5 s
    # duration among them): the exact matches below prove the queries leave them out.
    everything = await hits(es, f"{names.prefix}-*", "*")
    assert len(everything) == len(lines) + 2

    for key, messages in expected.items():
        search = OBJECTS[("search", key)]
        query = search_source(search)["query"]["query"]
        if key == "logferry-trace":
            assert await hits(es, data_view_pattern(search, names.prefix), query) == []
            query = query.replace("REPLACE-ME", TRACE)
        found = await hits(
            es, data_view_pattern(search, names.prefix), localise(query, names.prefix)
        )
        # Exactly these lines, each once, none of them a dead letter (they match app-logs-* too).
        assert sorted(h["message"] for h in found) == messages, (key, found)
        assert all(h["_index"].startswith(f"{names.prefix}-{service}-") for h in found), key
        assert {h["service"]["name"] for h in found} == {service}

    # The trace search by request id: the user puts a request id where the trace id would go.
    trace = OBJECTS[("search", "logferry-trace")]
    query = search_source(trace)["query"]["query"].replace("REPLACE-ME", REQUEST)
    found = await hits(es, data_view_pattern(trace, names.prefix), query)
    assert [h["message"] for h in found] == ["GET /cart ok"]

    dead = OBJECTS[("search", "logferry-dead-letters")]
    pattern = data_view_pattern(dead, names.prefix)
    assert pattern == names.deadletters
    found = await hits(es, pattern, search_source(dead)["query"]["query"])
    assert sorted(h["logferry"]["deadletter"]["reason"] for h in found) == ["not_json", "rejected"]


def visualization_aggs(vis: SavedObject) -> dict[str, Any]:
    """The Elasticsearch aggregations a legacy visualization's aggs stand for (the kinds used)."""
    state = orjson.loads(vis.attributes["visState"])
    buckets: list[tuple[str, dict[str, Any]]] = []
    metrics: dict[str, Any] = {}
    for agg in state["aggs"]:
        params = agg["params"]
        if agg["type"] == "count":
            continue
        if agg["type"] == "percentiles":
            metrics[agg["id"]] = {
                "percentiles": {"field": params["field"], "percents": params["percents"]}
            }
        elif agg["type"] == "date_histogram":
            buckets.append(
                (
                    agg["id"],
                    {
                        "date_histogram": {
                            "field": params["field"],
                            "fixed_interval": "1h",
                            "min_doc_count": params["min_doc_count"],
                        }
                    },
                )
            )
        elif agg["type"] == "terms":
            terms: dict[str, Any] = {"field": params["field"], "size": params["size"]}
            if params.get("missingBucket"):
                terms["missing"] = "__missing__"
            buckets.append((agg["id"], {"terms": terms}))
        elif agg["type"] == "filters":
            buckets.append(
                (
                    agg["id"],
                    {
                        "filters": {
                            "filters": {
                                f["label"]: lucene(f["input"]["query"]) for f in params["filters"]
                            }
                        }
                    },
                )
            )
        else:
            raise AssertionError(f"{vis.id}: aggregation {agg['type']} not translated")
    tree: dict[str, Any] = metrics
    for agg_id, body in reversed(buckets):
        tree = {agg_id: {**body, **({"aggs": tree} if tree else {})}}
    return tree


async def test_the_dashboard_aggregations_answer_over_the_same_kind_of_data(
    tmp_path: Path,
    kafka_bootstrap: str,
    kafka_topic: str,
    elasticsearch_url: str,
    es: AsyncElasticsearch,
    names: Names,
    cleanup: None,
    processes: list[Any],
) -> None:
    service = f"orders-{uuid.uuid4().hex[:6]}"
    lines, _ = app_lines()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"".join(lines))
    shipper = ShipperProcess(
        tmp_path,
        {
            "input": {"paths": [str(logs / "app.log")], **FAST_INPUT},
            "output": {"url": f"kafka://{kafka_bootstrap}/{kafka_topic}"},
            "service": {"name": service},
        },
    )
    processes.append(shipper)
    shipper.start()
    await publish_raw(kafka_bootstrap, kafka_topic, [(b"not json at all", [])])
    indexer = IndexerProcess(
        tmp_path, names.config(kafka_bootstrap, kafka_topic, elasticsearch_url)
    )
    processes.append(indexer)
    indexer.start()
    assert await wait_for_count(es, names.logs, len(lines)) == len(lines), indexer.tail()
    assert await wait_for_count(es, names.deadletters, 1) == 1, indexer.tail()

    (dashboard,) = [o for o in OBJECTS.values() if o.type == "dashboard"]
    answers: dict[str, dict[str, Any]] = {}
    for ref in dashboard.references:
        vis = OBJECTS[(ref["type"], ref["id"])]
        query = localise(search_source(vis)["query"]["query"], names.prefix)
        response = await es.search(
            index=data_view_pattern(vis, names.prefix),
            query=lucene(query),
            aggs=visualization_aggs(vis),
            size=0,
        )
        # The dead letter matches the data view's pattern but never the panels.
        assert response["hits"]["total"]["value"] == len(lines), vis.id
        unfiltered = await es.count(index=data_view_pattern(vis, names.prefix))
        assert unfiltered["count"] == len(lines) + 1
        answers[vis.id] = response["aggregations"]

    def flat(aggs: dict[str, Any], path: list[str]) -> dict[str, int]:
        """doc_count per key of the innermost bucket agg, summed over the outer buckets."""
        totals: dict[str, int] = {}
        for outer in aggs[path[0]]["buckets"]:
            inner = outer[path[1]]["buckets"]
            items = inner.items() if isinstance(inner, dict) else ((b["key"], b) for b in inner)
            for key, bucket in items:
                totals[key] = totals.get(key, 0) + bucket["doc_count"]
        return totals

    assert flat(answers["logferry-log-volume-by-level"], ["2", "3"]) == {
        "info": 6,
        "warning": 1,
        "error": 2,
        "critical": 1,
        "__missing__": 2,  # the two parse failures; the dead letter is left out
    }
    assert flat(answers["logferry-error-rate"], ["2", "3"]) == {"error": 3, "other": 9}
    p95s = [
        b["1"]["values"]["95.0"]
        for b in answers["logferry-p95-duration"]["2"]["buckets"]
        if b["1"]["values"]["95.0"] is not None
    ]
    assert p95s and 1_000_000_000 <= max(p95s) <= 1_500_000_000
    groups = answers["logferry-top-error-groups"]["2"]["buckets"]
    assert [(g["doc_count"], g["3"]["buckets"][0]["key"]) for g in groups] == [
        (2, "ValueError"),  # "bad amount 42" and "bad amount 1337": one group
        (1, "KeyError"),
    ]
