"""Committable offsets: the settled prefix of each partition, whatever the order of settlement."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from shipper.indexer.settle import OffsetTracker


def test_nothing_is_committable_until_the_first_record_settles() -> None:
    tracker = OffsetTracker()
    for offset in range(3):
        tracker.add(0, offset)
    tracker.settle(0, 1)
    tracker.settle(0, 2)
    assert tracker.committable() == {}
    tracker.settle(0, 0)
    assert tracker.committable() == {0: 3}
    assert tracker.pending() == 0


def test_the_commit_point_stops_at_the_first_unsettled_record() -> None:
    tracker = OffsetTracker()
    for offset in range(10, 15):
        tracker.add(0, offset)
    for offset in (10, 11, 13, 14):
        tracker.settle(0, offset)
    assert tracker.committable() == {0: 12}
    assert tracker.pending(0) == 3


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.add(1, 0)
    tracker.add(1, 1)
    tracker.settle(1, 0)
    assert tracker.committable() == {1: 1}
    assert tracker.committable({0}) == {}


def test_gaps_in_offsets_do_not_block_the_commit() -> None:
    tracker = OffsetTracker()  # compaction or transaction markers leave holes
    for offset in (5, 9, 20):
        tracker.add(0, offset)
    for offset in (20, 9, 5):
        tracker.settle(0, offset)
    assert tracker.committable() == {0: 21}


def test_a_commit_point_is_offered_once_until_it_moves() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.settle(0, 0)
    tracker.mark_committed({0: 1})
    assert tracker.committable() == {}
    assert tracker.committed(0) == 1
    tracker.add(0, 1)
    tracker.settle(0, 1)
    assert tracker.committable() == {0: 2}


def test_an_unacknowledged_commit_is_offered_again() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.settle(0, 0)
    assert tracker.committable() == {0: 1}
    assert tracker.committable() == {0: 1}  # the commit failed: still wanted


def test_settlements_of_unknown_offsets_are_ignored() -> None:
    tracker = OffsetTracker()
    tracker.settle(3, 7)  # a partition never seen (revoked and reset)
    tracker.add(0, 5)
    tracker.settle(0, 4)
    assert tracker.committable() == {}
    assert tracker.pending() == 1


def test_reset_forgets_a_partition_and_late_settlements_do_not_resurrect_it() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.add(0, 1)
    tracker.reset({0})
    tracker.settle(0, 0)
    assert tracker.committable() == {}
    # assigned again: consumption restarts at the committed offset
    tracker.add(0, 0)
    tracker.settle(0, 0)
    assert tracker.committable() == {0: 1}


def test_a_redelivered_record_is_tracked_once() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.add(0, 1)
    tracker.add(0, 0)  # delivered again while pending
    tracker.settle(0, 0)
    tracker.settle(0, 1)
    assert tracker.committable() == {0: 2}
    tracker.add(0, 1)  # below the commit point: already settled
    assert tracker.pending() == 0


@given(
    st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=200),
    st.randoms(use_true_random=False),
    st.integers(min_value=0, max_value=199),
)
def test_the_commit_point_is_always_after_the_longest_settled_prefix(
    gaps: list[int], rng: random.Random, settled_count: int
) -> None:
    offsets, offset = [], 0
    for gap in gaps:
        offset += gap + 1
        offsets.append(offset)
    tracker = OffsetTracker()
    for o in offsets:
        tracker.add(0, o)
    settled = rng.sample(offsets, min(settled_count, len(offsets)))
    for o in settled:
        tracker.settle(0, o)
    prefix = 0
    while prefix < len(offsets) and offsets[prefix] in set(settled):
        prefix += 1
    expected = {0: offsets[prefix - 1] + 1} if prefix else {}
    assert tracker.committable() == expected
    assert tracker.pending() == len(offsets) - prefix
