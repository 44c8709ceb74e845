"""tests.prometheus_text: the tests' one reader of /metrics fails on a series that is not there."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from tests.prometheus_text import sample_value


@pytest.fixture(scope="module")
def exposition() -> str:
    registry = CollectorRegistry()
    Counter("events_published", "h", registry=registry).inc(7)
    lag = Gauge("lag_records", "h", ["topic", "partition"], registry=registry)
    lag.labels("t", "0").set(2)
    lag.labels("t", "1").set(5)
    lag.labels("u", "0").set(100)
    up = Gauge("output_up", "h", ["output"], registry=registry)
    up.labels("kafka://k:9092/logs").set(0)
    Histogram("bulk_seconds", "h", buckets=[0.1], registry=registry).observe(0.05)
    return generate_latest(registry).decode()


def test_a_series_by_its_exposed_name_and_labels(exposition: str) -> None:
    assert sample_value(exposition, "events_published_total") == 7
    assert sample_value(exposition, "output_up", {"output": "kafka://k:9092/logs"}) == 0
    assert sample_value(exposition, "bulk_seconds_count") == 1
    assert sample_value(exposition, "bulk_seconds_bucket", {"le": "+Inf"}) == 1


def test_the_series_whose_labels_include_the_given_ones_are_summed(exposition: str) -> None:
    assert sample_value(exposition, "lag_records", {"topic": "t"}) == 7
    assert sample_value(exposition, "lag_records") == 107


def test_a_misspelt_name_fails_and_suggests_the_real_one(exposition: str) -> None:
    with pytest.raises(AssertionError, match="no metric named output_upp") as raised:
        sample_value(exposition, "output_upp", {"output": "kafka://k:9092/logs"})
    assert "similar names: output_up" in str(raised.value)


def test_absent_labels_fail_and_list_the_series_that_exist(exposition: str) -> None:
    with pytest.raises(AssertionError) as raised:
        sample_value(exposition, "output_up", {"output": "kafka://elsewhere/logs"})
    message = str(raised.value)
    assert 'no series output_up{output="kafka://elsewhere/logs"}' in message
    assert 'output_up{output="kafka://k:9092/logs"} 0.0' in message


def test_a_default_only_when_asked_for(exposition: str) -> None:
    assert sample_value(exposition, "dead_letters_total", default=0.0) == 0.0
    assert sample_value(exposition, "events_published_total", default=0.0) == 7
