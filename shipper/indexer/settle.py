"""Which Kafka offsets may be committed: per partition, everything below the first unsettled one. Pure.

Records of a partition are handed out in offset order and settled in any order (several bulks
are in flight, and retries finish late). A partition's commit point is the offset after the
last record of its *settled prefix*: committing it tells Kafka "everything before this is in
Elasticsearch", which is exactly true.

A settlement for an offset the tracker does not hold — its partition was revoked and reset
meanwhile, or it was below the commit point already — is ignored: the record is in
Elasticsearch either way, and the tracker only has to be right about the ones it holds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["OffsetTracker"]


@dataclass
class _Partition:
    pending: deque[int] = field(default_factory=deque)
    """Offsets handed out and not yet below the commit point, in order."""
    settled: set[int] = field(default_factory=set)
    """Offsets of `pending` that are settled."""
    members: set[int] = field(default_factory=set)
    """Every offset of `pending`, for O(1) membership."""
    next_commit: int | None = None
    """Offset after the settled prefix (None until something settled)."""
    committed: int | None = None
    """The last commit point Kafka acknowledged."""


class OffsetTracker:
    """Per-partition bookkeeping of handed-out and settled offsets."""

    def __init__(self) -> None:
        self._partitions: dict[int, _Partition] = {}

    def add(self, partition: int, offset: int) -> None:
        """A record was handed out for writing."""
        state = self._partitions.get(partition)
        if state is None:  # not setdefault: that would build a _Partition for every record
            state = self._partitions[partition] = _Partition()
        if offset in state.members:
            return  # delivered again while still pending: either copy settles it
        if state.pending and offset < state.pending[-1]:
            return  # re-delivery of something below the pending tail: already settled
        if state.next_commit is not None and offset < state.next_commit:
            return
        state.pending.append(offset)
        state.members.add(offset)

    def settle(self, partition: int, offset: int) -> None:
        """The record at *offset* is in Elasticsearch (created, already there, or dead-lettered)."""
        state = self._partitions.get(partition)
        if state is None or offset not in state.members:
            return
        state.settled.add(offset)
        pending = state.pending
        while pending and pending[0] in state.settled:
            done = pending.popleft()
            state.settled.discard(done)
            state.members.discard(done)
            state.next_commit = done + 1

    def committable(self, partitions: set[int] | None = None) -> dict[int, int]:
        """Commit points that moved past the last committed one (of *partitions*, or all)."""
        result = {}
        for partition, state in self._partitions.items():
            if partitions is not None and partition not in partitions:
                continue
            if state.next_commit is not None and state.next_commit != state.committed:
                result[partition] = state.next_commit
        return result

    def mark_committed(self, offsets: dict[int, int]) -> None:
        """Kafka acknowledged these commit points."""
        for partition, offset in offsets.items():
            state = self._partitions.get(partition)
            if state is not None:
                state.committed = offset

    def committed(self, partition: int) -> int | None:
        """The last acknowledged commit point of *partition*, if this tracker made one."""
        state = self._partitions.get(partition)
        return state.committed if state else None

    def reset(self, partitions: set[int]) -> None:
        """Forget *partitions* (revoked, or assigned afresh: consumption restarts at the committed offset)."""
        for partition in partitions:
            self._partitions.pop(partition, None)

    def pending(self, partition: int | None = None) -> int:
        """Records handed out and not below a commit point (of one partition, or all)."""
        if partition is not None:
            state = self._partitions.get(partition)
            return len(state.pending) if state else 0
        return sum(len(state.pending) for state in self._partitions.values())
