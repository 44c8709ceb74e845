"""The bulk writer settles every document: created, 409, retried, or dead-lettered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from pipelines.route import RouteConfig, Router
from shipper.backoff import Backoff
from shipper.indexer.bulk import BulkWriter
from shipper.indexer.deadletter import DeadLetters
from shipper.indexer.documents import Decoder, Document
from shipper.indexer.metrics import IndexerMetrics
from tests.unit.indexer.support import HEADERS, event, record

Answer = Callable[[dict[str, Any], dict[str, Any], int], tuple[int, dict[str, Any] | None]]
"""(action, source, attempt) -> (status, error) of one item."""


@dataclass
class Response:
    body: dict[str, Any]


@dataclass
class FakeElasticsearch:
    """Answers each bulk item with *answer*; *fail_first* whole requests fail first."""

    answer: Answer
    fail_first: int = 0
    failure: Exception | None = None
    requests: list[list[tuple[dict[str, Any], dict[str, Any]]]] = field(default_factory=list)

    async def bulk(self, *, operations: bytes, filter_path: Any) -> Response:
        lines = [_load(line) for line in operations.split(b"\n") if line]
        pairs = list(zip(lines[::2], lines[1::2], strict=True))
        self.requests.append(pairs)
        if len(self.requests) <= self.fail_first:
            raise self.failure or ConnectionError("refused")
        items: list[dict[str, Any]] = []
        for action, source in pairs:
            status: int
            error: dict[str, Any] | None
            if "_unparsable" in source:  # what Elasticsearch answers for a source it cannot read
                status, error = 400, {"type": "document_parsing_exception", "reason": "parse"}
            else:
                status, error = self.answer(action["create"], source, len(self.requests))
            items.append({"create": {"status": status, **({"error": error} if error else {})}})
        return Response(
            {"errors": any(i["create"]["status"] >= 300 for i in items), "items": items}
        )


def _load(line: bytes) -> dict[str, Any]:
    try:
        loaded = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {"_unparsable": line}
    return loaded if isinstance(loaded, dict) else {"_unparsable": line}


def api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "localhost", 9200))
    return ApiError("failed", meta, {"error": {"type": "x", "reason": "y"}})


ROUTER = Router(RouteConfig())
DEADLETTERS = DeadLetters(Router(RouteConfig(index_pattern="app-logs-deadletter-{date}")))
DECODER = Decoder(ROUTER, DEADLETTERS)


def docs(n: int) -> list[Document]:
    return [DECODER.decode(record(event(f"e-{i}", seq=i), offset=i)) for i in range(n)]


async def write(
    es: FakeElasticsearch, documents: list[Document]
) -> tuple[list[Document], IndexerMetrics, list[float]]:
    metrics = IndexerMetrics()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    writer = BulkWriter(
        es,  # type: ignore[arg-type]
        DEADLETTERS,
        metrics,
        lambda: Backoff(0.1, 1.0, lambda low, high: high),
        sleep,
    )
    return await writer.write(documents), metrics, sleeps


def value(metrics: IndexerMetrics, name: str, **labels: str) -> float:
    result = metrics.registry.get_sample_value(name, labels)
    return result or 0.0


async def test_created_and_already_there_both_settle() -> None:
    es = FakeElasticsearch(
        lambda action, _s, _a: (
            (409, {"type": "version_conflict_engine_exception"})
            if action["_id"] == "e-1"
            else (201, None)
        )
    )
    settled, metrics, sleeps = await write(es, docs(3))
    assert [d.offset for d in settled] == [0, 1, 2]
    assert len(es.requests) == 1 and sleeps == []
    assert value(metrics, "logferry_indexer_documents_indexed_total") == 2
    assert value(metrics, "logferry_indexer_documents_duplicate_total") == 1
    action, _ = es.requests[0][0]
    assert action == {"create": {"_index": "app-logs-orders-2026.11.23", "_id": "e-0"}}


async def test_retriable_items_are_sent_again_alone_with_backoff() -> None:
    def answer(action: dict[str, Any], _s: dict[str, Any], attempt: int) -> tuple[int, Any]:
        if action["_id"] == "e-1" and attempt < 3:
            return 429, {"type": "es_rejected_execution_exception"}
        return 201, None

    es = FakeElasticsearch(answer)
    settled, metrics, sleeps = await write(es, docs(3))
    assert len(settled) == 3
    assert [len(r) for r in es.requests] == [3, 1, 1]
    assert sleeps == [0.1, 0.2]
    assert value(metrics, "logferry_indexer_documents_retried_total", reason="429") == 2
    assert value(metrics, "logferry_indexer_documents_indexed_total") == 3


async def test_a_request_that_fails_whole_is_retried_whole_until_elasticsearch_is_back() -> None:
    es = FakeElasticsearch(lambda *_: (201, None), fail_first=4)
    settled, metrics, sleeps = await write(es, docs(2))
    assert len(settled) == 2
    assert len(es.requests) == 5
    assert sleeps == [0.1, 0.2, 0.4, 0.8]
    assert value(metrics, "logferry_indexer_bulk_failures_total") == 4
    assert value(metrics, "logferry_indexer_documents_retried_total", reason="unavailable") == 8
    assert value(metrics, "logferry_indexer_elasticsearch_up") == 1


@pytest.mark.parametrize(("status", "reason"), [(503, "5xx"), (429, "429")])
async def test_http_errors_of_the_whole_request_are_retried(status: int, reason: str) -> None:
    es = FakeElasticsearch(lambda *_: (201, None), fail_first=1, failure=api_error(status))
    _, metrics, _ = await write(es, docs(1))
    assert value(metrics, "logferry_indexer_documents_retried_total", reason=reason) == 1


async def test_a_rejected_event_becomes_a_dead_letter_in_the_next_round() -> None:
    def answer(action: dict[str, Any], source: dict[str, Any], _a: int) -> tuple[int, Any]:
        if action["_id"] == "e-1" and "deadletter" not in action["_index"]:
            return 400, {
                "type": "document_parsing_exception",
                "reason": "[1:30] failed to parse field [event.duration] of type [long]",
                "caused_by": {
                    "type": "illegal_argument_exception",
                    "reason": 'For input string: "abc"',
                },
            }
        return 201, None

    es = FakeElasticsearch(answer)
    settled, metrics, sleeps = await write(es, docs(3))
    assert [d.offset for d in settled] == [0, 1, 2]
    assert sleeps == []  # nothing to wait for: the dead letter goes at once
    ((action, source),) = es.requests[1]
    assert action["create"] == {"_index": "app-logs-deadletter-2026.11.23", "_id": "e-1"}
    assert orjson.loads(source["event"]["original"])["event"]["id"] == "e-1"
    assert source["error"]["type"] == "document_parsing_exception"
    assert 'For input string: "abc"' in source["error"]["message"]
    assert value(metrics, "logferry_indexer_documents_rejected_total") == 1
    assert value(metrics, "logferry_indexer_dead_letters_total", reason="rejected") == 1
    assert value(metrics, "logferry_indexer_documents_indexed_total") == 2


async def test_a_refused_dead_letter_is_written_minimal_then_kept_retrying() -> None:
    def answer(action: dict[str, Any], source: dict[str, Any], attempt: int) -> tuple[int, Any]:
        if action["_index"].startswith("app-logs-deadletter") and attempt < 4:
            return 400, {"type": "mapper_parsing_exception", "reason": "nope"}
        return 201, None

    es = FakeElasticsearch(answer)
    settled, metrics, _ = await write(es, [DECODER.decode(record(b"not json"))])
    assert len(settled) == 1
    first, second, third, fourth = (r[0][1] for r in es.requests)
    assert "logferry" in first
    assert set(second) == set(third) == set(fourth) == {"@timestamp", "event", "error"}
    assert value(metrics, "logferry_indexer_dead_letters_total", reason="not_json") == 1


ROUTE = [("logferry-day", b"2026-11-23"), ("logferry-service", b"orders")]


async def test_spliced_records_are_written_as_their_bytes_and_a_lookalike_is_a_dead_letter() -> (
    None
):
    good = [event(f"e-{i}", seq=i) for i in range(3)]
    bad = b'{"message": "cut", "seq": }'  # looks like an object, is not JSON
    records = [
        record(original, offset=i, headers=[*HEADERS, *ROUTE])
        for i, original in enumerate([*good, bad])
    ]
    es = FakeElasticsearch(lambda *_: (201, None))
    settled, metrics, sleeps = await write(es, [DECODER.decode(r) for r in records])
    assert [d.offset for d in settled] == [0, 1, 2, 3]
    first, second = es.requests
    assert [action["create"]["_index"] for action, _ in first] == 4 * ["app-logs-orders-2026.11.23"]
    for (_, source), original in zip(first, good, strict=False):
        assert {k: v for k, v in source.items() if k != "event.ingested"} == orjson.loads(original)
    ((action, letter),) = second
    assert action["create"] == {"_index": "app-logs-deadletter-2026.11.23", "_id": "app-logs-0-3"}
    assert letter["event"]["original"] == bad.decode()
    assert letter["logferry"]["deadletter"]["reason"] == "not_json"
    assert sleeps == []
    assert value(metrics, "logferry_indexer_documents_indexed_total") == 3
    assert value(metrics, "logferry_indexer_dead_letters_total", reason="not_json") == 1
    assert value(metrics, "logferry_indexer_documents_rejected_total") == 0


# Issue 11, item 7: one record Elasticsearch refuses for the whole request must not hold the
# partition back forever.


@dataclass
class RefusesLongIds(FakeElasticsearch):
    """Like Elasticsearch: an ``_id`` over 512 bytes fails the whole request with a 400."""

    async def bulk(self, *, operations: bytes, filter_path: Any) -> Response:
        actions = [_load(line) for line in operations.split(b"\n")[::2] if line]
        if any(len(action["create"]["_id"].encode()) > 512 for action in actions):
            self.requests.append([])
            meta = ApiResponseMeta(400, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "h", 9200))
            raise ApiError(
                "action_request_validation_exception",
                meta,
                {
                    "error": {
                        "type": "action_request_validation_exception",
                        "reason": "Validation Failed: 1: id [xxx] is too long, must be no longer "
                        "than 512 bytes but was: 600;",
                    },
                    "status": 400,
                },
            )
        return await super().bulk(operations=operations, filter_path=filter_path)


async def test_issue11_item7_a_request_refused_for_one_document_is_split_until_it_is_alone() -> (
    None
):
    long_id = "x" * 600
    good = docs(9)
    bad = Document(
        index=good[0].index,
        id=long_id,
        source=event(long_id),
        partition=0,
        offset=9,
        record=record(event(long_id), offset=9),
    )
    documents = [*good[:4], bad, *good[4:]]
    es = RefusesLongIds(lambda *_: (201, None))
    settled, metrics, sleeps = await write(es, documents)

    assert settled == documents  # every one settled: the partition moves on
    written = [action for request in es.requests for action, _ in request]
    events = [a["create"]["_id"] for a in written if "deadletter" not in a["create"]["_index"]]
    assert sorted(events) == sorted(d.id for d in good)  # each good one written once
    letters = [
        (a["create"], s)
        for request in es.requests
        for a, s in request
        if "deadletter" in a["create"]["_index"]
    ]
    assert len(letters) == 1
    action, letter = letters[0]
    assert action["_id"] == "app-logs-0-9"  # an _id Elasticsearch takes
    assert letter["event"]["original"] == event(long_id).decode()
    assert letter["event"]["id"] == long_id
    assert value(metrics, "logferry_indexer_documents_indexed_total") == 9
    assert value(metrics, "logferry_indexer_dead_letters_total", reason="schema") == 1
    assert sleeps == []  # nothing waited for: the refusal is final


async def test_issue11_item7_a_single_document_refused_whole_is_dead_lettered() -> None:
    es = FakeElasticsearch(lambda *_: (201, None), fail_first=1, failure=api_error(400))
    settled, metrics, _ = await write(es, docs(1))
    assert len(settled) == 1
    assert value(metrics, "logferry_indexer_dead_letters_total", reason="rejected") == 1
    assert value(metrics, "logferry_indexer_documents_rejected_total") == 1


def test_issue11_item7_an_event_id_elasticsearch_cannot_take_is_a_dead_letter_before_the_bulk() -> (
    None
):
    long_id = "é" * 300  # 600 bytes
    for headers in (
        [
            ("event.id", long_id.encode()),
            ("logferry-schema", b"1"),
            ("logferry-day", b"2026-11-23"),
        ],
        [("event.id", long_id.encode()), ("logferry-schema", b"1")],
    ):
        doc = DECODER.decode(record(event(long_id), offset=3, headers=headers))
        assert doc.deadletter_reason == "schema"
        assert doc.id == "app-logs-0-3"
        letter = orjson.loads(doc.source)
        assert letter["event"]["id"] == long_id
        assert "600 bytes" in letter["error"]["message"]
    fits = "é" * 256  # 512 bytes: taken
    assert DECODER.decode(record(event(fits))).deadletter_reason is None
