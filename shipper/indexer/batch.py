"""Grouping documents into bulk requests: by count, by bytes, and by age. Pure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shipper.indexer.documents import Document

__all__ = ["Batch", "BatchBuilder", "bulk_body"]


@dataclass
class Batch:
    """Documents sent in one bulk request."""

    documents: list[Document] = field(default_factory=list)
    size_bytes: int = 0
    started_at: float = 0.0

    def __len__(self) -> int:
        return len(self.documents)


def bulk_body(documents: list[Document]) -> bytes:
    """The NDJSON body of a bulk request creating *documents*."""
    parts: list[bytes] = []
    for document in documents:
        parts.append(document.action)
        parts.append(document.source)
    parts.append(b"")
    return b"\n".join(parts)


class BatchBuilder:
    """Collects documents; hands out a batch when it is full (count or bytes) or old enough."""

    def __init__(
        self,
        max_documents: int,
        max_bytes: int,
        max_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._current = Batch()

    def __len__(self) -> int:
        return len(self._current)

    def add(self, document: Document) -> list[Batch]:
        """Add *document*; the batches that became full (zero, one, or two)."""
        full: list[Batch] = []
        size = document.size
        current = self._current
        if current.documents and current.size_bytes + size > self.max_bytes:
            full.append(self._seal())  # would overflow: the document starts the next batch
            current = self._current
        if not current.documents:
            current.started_at = self._clock()
        current.documents.append(document)
        current.size_bytes += size
        if len(current.documents) >= self.max_documents or current.size_bytes >= self.max_bytes:
            full.append(self._seal())
        return full

    def due(self) -> bool:
        """Whether the batch being built has waited long enough to go out unfilled."""
        current = self._current
        return bool(current.documents) and self._clock() - current.started_at >= self.max_wait_s

    def wait_s(self) -> float:
        """How long until the batch being built is due (the whole max wait when it is empty)."""
        if not self._current.documents:
            return self.max_wait_s
        return max(0.0, self._current.started_at + self.max_wait_s - self._clock())

    def flush(self) -> Batch | None:
        """The batch being built, if it has documents."""
        return self._seal() if self._current.documents else None

    def _seal(self) -> Batch:
        batch, self._current = self._current, Batch()
        return batch
