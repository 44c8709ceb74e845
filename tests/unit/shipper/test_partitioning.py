"""Partitioning by key is stable: the same key maps to the same partition in every process and
every release (a change would split a trace's events across partitions after an upgrade)."""

from __future__ import annotations

from shipper.sinks.kafka import partition_for


def test_pinned_partitions_of_known_keys() -> None:
    # xxh3-64 of the key modulo the partition count; pinned so a change of hash is noticed.
    assert partition_for(b"file-1", [0, 1, 2]) == 1
    assert partition_for(b"4bf92f3577b34da6a3ce929d0e0e4736", [0, 1, 2]) == 2
    assert partition_for(b"4bf92f3577b34da6a3ce929d0e0e4736", [10, 11, 12]) == 12


def test_keys_spread_evenly() -> None:
    partitions = list(range(6))
    counts = [0] * 6
    for n in range(60_000):
        counts[partition_for(f"{n:032x}".encode(), partitions)] += 1
    assert min(counts) > 9_000 and max(counts) < 11_000
