"""What to do with each bulk item Elasticsearch answered, and how long to wait before retrying. Pure.

===================================================  ==========  ============================
answer                                               outcome     the record is
===================================================  ==========  ============================
201 created (200 too)                                CREATED     settled
409 version conflict (the ``_id`` exists: a replay)  DUPLICATE   settled
429, 5xx, 408; cluster/index blocks; index missing   RETRY       sent again, with backoff
any other 4xx (mapping conflict, parse error, ...)   REJECTED    written as a dead letter
===================================================  ==========  ============================

A request that fails as a whole (connection refused, timeout, 429/5xx on the request) is retried
whole, waiting with :class:`shipper.backoff.Backoff`; one refused whole for its content (400,
413) is split until the document at fault is alone, whose answer it then is
(:mod:`shipper.indexer.bulk`). Blocks and a missing index (auto-creation disabled) are an operator's to fix; waiting for
them keeps the records, where dead-lettering would only fail the same way.
"""

from __future__ import annotations

import enum
from typing import Any, Final

__all__ = ["Outcome", "classify", "retry_reason"]

_RETRIABLE_ERROR_TYPES: Final = frozenset(
    {
        "cluster_block_exception",
        "index_not_found_exception",
        "es_rejected_execution_exception",
        "unavailable_shards_exception",
        "circuit_breaking_exception",
        "no_shard_available_action_exception",
        "node_not_connected_exception",
        "process_cluster_event_timeout_exception",
    }
)


class Outcome(enum.Enum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    REJECTED = "rejected"


def classify(status: int, error: Any = None) -> Outcome:
    """The outcome of one bulk item from its status and error object."""
    if status in (200, 201):
        return Outcome.CREATED
    if status == 409:
        return Outcome.DUPLICATE
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    error_type = error.get("type") if isinstance(error, dict) else None
    if error_type in _RETRIABLE_ERROR_TYPES:
        return Outcome.RETRY
    return Outcome.REJECTED


def retry_reason(status: int | None) -> str:
    """A bounded label for why something is retried: ``429``, ``5xx``, ``4xx`` or ``unavailable``."""
    if status is None:
        return "unavailable"
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    return "4xx"
