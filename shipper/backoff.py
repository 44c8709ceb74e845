"""The one retry policy of logferry: exponential backoff with jitter.

The shipper waits with it between publish attempts and connection attempts, the indexer between
bulk requests; each keeps its own bounds.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling up to *max_s*."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = rng
        self._next = initial_s

    def next(self) -> float:
        """The next delay, in seconds."""
        ceiling = min(self._next, self.max_s)
        self._next = min(self._next * 2, self.max_s)
        return self._rng(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._next = self.initial_s
