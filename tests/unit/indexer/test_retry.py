"""Classification of bulk items, and the backoff."""

from __future__ import annotations

import pytest

from shipper.backoff import Backoff
from shipper.indexer.retry import Outcome, classify, retry_reason


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (201, None, Outcome.CREATED),
        (200, None, Outcome.CREATED),
        (409, {"type": "version_conflict_engine_exception"}, Outcome.DUPLICATE),
        (429, {"type": "es_rejected_execution_exception"}, Outcome.RETRY),
        (500, {"type": "exception"}, Outcome.RETRY),
        (503, {"type": "unavailable_shards_exception"}, Outcome.RETRY),
        (408, None, Outcome.RETRY),
        (403, {"type": "cluster_block_exception"}, Outcome.RETRY),
        (404, {"type": "index_not_found_exception"}, Outcome.RETRY),
        (400, {"type": "document_parsing_exception"}, Outcome.REJECTED),
        (400, {"type": "mapper_parsing_exception"}, Outcome.REJECTED),
        (400, {"type": "illegal_argument_exception"}, Outcome.REJECTED),
        (400, None, Outcome.REJECTED),
    ],
)
def test_classify(status: int, error: object, outcome: Outcome) -> None:
    assert classify(status, error) is outcome


def test_retry_reasons_are_a_small_fixed_set() -> None:
    assert {retry_reason(s) for s in (None, 429, 500, 502, 503, 404, 403)} == {
        "unavailable",
        "429",
        "5xx",
        "4xx",
    }


def test_backoff_doubles_up_to_the_max_with_jitter_in_the_upper_half() -> None:
    draws: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        draws.append((low, high))
        return high

    backoff = Backoff(0.2, 1.0, rng)
    assert [backoff.next() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert draws[0] == (0.1, 0.2)
    backoff.reset()
    assert backoff.next() == 0.2


def test_backoff_jitter_stays_within_bounds() -> None:
    backoff = Backoff(1.0, 8.0)
    for ceiling in (1.0, 2.0, 4.0, 8.0, 8.0):
        delay = backoff.next()
        assert ceiling / 2 <= delay <= ceiling
