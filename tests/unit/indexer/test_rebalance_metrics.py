"""Rebalances as a user sees them on /metrics: how many, partitions handed over and taken away,
and the partitions held now."""

from __future__ import annotations

from prometheus_client import generate_latest

from shipper.indexer.metrics import IndexerMetrics
from tests.prometheus_text import sample_value


def _value(metrics: IndexerMetrics, name: str) -> float:
    return sample_value(generate_latest(metrics.registry).decode(), f"logferry_indexer_{name}")


def test_a_member_that_joins_shares_then_takes_over_counts_each_rebalance() -> None:
    metrics = IndexerMetrics()
    assert _value(metrics, "rebalances_total") == 0  # exposed before the first join

    metrics.observe_assigned(6)  # alone in the group
    metrics.observe_revoked(6)  # a second member joins: everything is taken back...
    assert _value(metrics, "assigned_partitions") == 0  # ...and held by no one until assigned
    metrics.observe_assigned(3)  # ...and shared
    metrics.observe_revoked(3)  # the other member leaves
    metrics.observe_assigned(6)

    assert _value(metrics, "rebalances_total") == 3
    assert _value(metrics, "partitions_assigned_total") == 15
    assert _value(metrics, "partitions_revoked_total") == 9
    assert _value(metrics, "assigned_partitions") == 6


def test_a_member_left_without_partitions_still_counts_the_rebalance() -> None:
    metrics = IndexerMetrics()
    metrics.observe_assigned(0)  # more members than partitions

    assert _value(metrics, "rebalances_total") == 1
    assert _value(metrics, "partitions_assigned_total") == 0
    assert _value(metrics, "assigned_partitions") == 0
