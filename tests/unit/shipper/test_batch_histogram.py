"""A batch counted per bucket and applied at once exposes exactly what observing each value does."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipelines.metrics import HTTP_DURATION_BUCKETS_S, BucketCounts
from shipper.metrics import BatchHistogram
from tests.prometheus_text import sample_value, samples, series

SUM: str = 'd_seconds_sum{service="orders"}'


def _exposition(histogram_class: type[Histogram], values: list[float]) -> str:
    registry = CollectorRegistry()
    histogram = histogram_class(
        "d_seconds", "help", ["service"], buckets=HTTP_DURATION_BUCKETS_S, registry=registry
    )
    child = histogram.labels("orders")
    if histogram_class is BatchHistogram:
        counts = BucketCounts()
        for value in values:
            counts.add(value)
        child.observe_counts(counts.counts, counts.total)  # type: ignore[attr-defined]
    else:
        for value in values:
            child.observe(value)
    return generate_latest(registry).decode()


def _families(exposition: str) -> list[tuple[str, str, str]]:
    """Name, type and help of each family."""
    return [(f.name, f.type, f.documentation) for f in text_string_to_metric_families(exposition)]


def _series(exposition: str) -> dict[str, float]:
    """Every series but the ``_created`` timestamps."""
    return {series(s): s.value for s in samples(exposition) if not s.name.endswith("_created")}


def test_bucket_counts_match_observe_one_by_one() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(1 / 0.2) for _ in range(5_000)]
    values += [*HTTP_DURATION_BUCKETS_S, 0.0, 31.0, 1e6]  # on every bound, below all, past all
    expected = _exposition(Histogram, values)
    batched = _exposition(BatchHistogram, values)
    assert sample_value(expected, "d_seconds_bucket", {"le": "+Inf", "service": "orders"}) == 5017
    assert _families(batched) == _families(expected)
    want, got = _series(expected), _series(batched)
    # The sums may differ in the last bits (added in another order).
    assert got.pop(SUM) == pytest.approx(want.pop(SUM))
    assert got == want


def test_a_value_on_a_bound_counts_in_that_bucket() -> None:
    counts = BucketCounts()
    counts.add(0.1)
    counts.add(0.1000001)
    assert counts.counts[HTTP_DURATION_BUCKETS_S.index(0.1)] == 1
    assert counts.counts[HTTP_DURATION_BUCKETS_S.index(0.25)] == 1
    assert counts.total == 0.1 + 0.1000001
