"""Creating the next day's daily indices before midnight UTC.

A day's first write to an index makes Elasticsearch create it (templates applied, a cluster
state update, the primary shard started): 1.7-3.7 s on one node (benchmarks/bench_latency.py),
during which the bulk request carrying that write waits, every other document in it too. At
midnight every service's first write does it at once. So in the last minutes of each day
(``index.create_ahead_minutes``) the indexer creates tomorrow's index of each of today's: the
same service (or dead-letter index), the next day. A service that wrote nothing today still gets
its index on its first write, as before.

Every indexer of a group does it, every few minutes of the window (a service may start writing
in it): an index that exists already is left as it is, so they need not agree on who does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final

from elasticsearch import ApiError, AsyncElasticsearch

from pipelines.route import Router
from shipper.errors import ElasticsearchError
from shipper.indexer.config import IndexConfig
from shipper.indexer.es import call
from shipper.indexer.retention import list_indices, owner_of

__all__ = ["create_ahead", "plan_ahead", "seconds_to_window"]

_DAY_S: Final = 86_400  # a UTC day of Unix time (leap seconds are not counted in it)


def seconds_to_window(now_s: float, ahead_s: float) -> float:
    """Seconds from *now_s* (Unix time) until the last *ahead_s* before the next midnight UTC;
    0 inside them."""
    midnight_s = (math.floor(now_s / _DAY_S) + 1) * _DAY_S
    return max(0.0, midnight_s - ahead_s - now_s)


def plan_ahead(
    indices: Iterable[str], router: Router, deadletter_router: Router, today: date
) -> list[str]:
    """Tomorrow's index of each of *today*'s among *indices*, those not among them yet (pure)."""
    existing = set(indices)
    tomorrow = today + timedelta(days=1)
    planned: set[str] = set()
    for name in existing:
        owned = owner_of(name, router, deadletter_router)
        if owned is None or owned[1] != today:
            continue
        next_index = owned[0].same_index_on(name, tomorrow)
        if next_index is not None:
            planned.add(next_index)
    return sorted(planned - existing)


async def create_ahead(es: AsyncElasticsearch, index: IndexConfig, today: date) -> list[str]:
    """Create tomorrow's indices of today's (see the module); the names created."""
    names = await list_indices(es, [index.route_glob(), index.deadletter_index_glob()])
    created = []
    for name in plan_ahead(names, index.router(), index.deadletter_router(), today):
        if await _create(es, name):
            created.append(name)
    return created


async def _create(es: AsyncElasticsearch, name: str) -> bool:
    """Create *name* (its settings and mappings come from the index templates); False when it
    exists already (another indexer, or a write, was first)."""
    try:
        await call(f"creating index {name}", es.indices.create(index=name))
    except ElasticsearchError as exc:
        cause = exc.__cause__
        if isinstance(cause, ApiError) and cause.error == "resource_already_exists_exception":
            return False
        raise
    return True
