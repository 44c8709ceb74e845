"""Batching by count, bytes and age; the bulk body."""

from __future__ import annotations

import orjson

from shipper.indexer.batch import BatchBuilder, bulk_body
from tests.unit.indexer.support import document


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_handed_out_when_it_reaches_max_documents() -> None:
    builder = BatchBuilder(max_documents=3, max_bytes=1 << 20, max_wait_s=1)
    assert builder.add(document(0)) == []
    assert builder.add(document(1)) == []
    (full,) = builder.add(document(2))
    assert [d.offset for d in full.documents] == [0, 1, 2]
    assert len(builder) == 0


def test_a_document_that_would_overflow_the_bytes_starts_the_next_batch() -> None:
    builder = BatchBuilder(max_documents=100, max_bytes=250, max_wait_s=1)
    builder.add(document(0, size=100))
    builder.add(document(1, size=100))
    (full,) = builder.add(document(2, size=100))
    assert [d.offset for d in full.documents] == [0, 1]
    assert full.size_bytes == 200
    assert len(builder) == 1


def test_a_single_document_larger_than_max_bytes_goes_alone() -> None:
    builder = BatchBuilder(max_documents=100, max_bytes=250, max_wait_s=1)
    builder.add(document(0, size=100))
    batches = builder.add(document(1, size=1000))
    assert [[d.offset for d in b.documents] for b in batches] == [[0], [1]]
    assert len(builder) == 0


def test_a_partial_batch_is_due_after_max_wait() -> None:
    clock = Clock()
    builder = BatchBuilder(max_documents=100, max_bytes=1 << 20, max_wait_s=0.5, clock=clock)
    assert not builder.due()
    assert builder.wait_s() == 0.5
    builder.add(document(0))
    clock.now += 0.3
    assert not builder.due()
    assert abs(builder.wait_s() - 0.2) < 1e-9
    clock.now += 0.2
    assert builder.due()
    batch = builder.flush()
    assert batch is not None and len(batch) == 1
    assert builder.flush() is None


def test_the_age_counts_from_the_first_document_of_the_batch() -> None:
    clock = Clock()
    builder = BatchBuilder(max_documents=2, max_bytes=1 << 20, max_wait_s=1, clock=clock)
    builder.add(document(0))
    builder.add(document(1))  # full: handed out
    clock.now += 5
    builder.add(document(2))
    assert not builder.due()


def test_size_matches_the_bulk_body() -> None:
    docs = [document(i, size=50 + i) for i in range(5)]
    assert sum(d.size for d in docs) == len(bulk_body(docs))


def test_bulk_body_is_create_actions_with_the_event_id() -> None:
    doc = document(7, index="app-logs-orders-2026.11.23")
    lines = bulk_body([doc]).split(b"\n")
    assert orjson.loads(lines[0]) == {
        "create": {"_index": "app-logs-orders-2026.11.23", "_id": "7"}
    }
    assert lines[1] == doc.source
    assert lines[2] == b""
