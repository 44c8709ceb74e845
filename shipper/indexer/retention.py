"""The retention sweeper: delete daily indices whose day (read from the name) is too long ago.

It works on any cluster (the minimal distribution has no ILM) and touches only indices whose
*whole name* is of the configured pattern (:meth:`~pipelines.route.Router.date_of_index`): an
index of another pattern, or one whose date part is not a real day, is never deleted.

An index of day ``D`` holds events up to ``D 23:59:59``; with a retention of ``N`` days it is
deleted once all of them are more than ``N`` days old: when ``D < today - N``. ``N`` is at
least 1, so today's index, and any of a future day, is always kept. Dead-letter indices have
their own retention (``retention.deadletter_days``, default the same).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from elasticsearch import AsyncElasticsearch

from pipelines.route import Router
from shipper.indexer.config import IndexConfig, RetentionConfig
from shipper.indexer.es import call

__all__ = ["Expired", "SweepPlan", "owner_of", "plan_sweep", "sweep", "utc_today"]

_DELETE_CHUNK: Final = 50  # names per DELETE request (keeps the URL short)


@dataclass(frozen=True)
class Expired:
    """An index to delete, and why."""

    index: str
    day: date
    kind: str
    """``logs`` or ``dead letters``."""
    age_days: int


@dataclass
class SweepPlan:
    """What a sweep deletes and how many indices of the pattern it keeps."""

    expired: list[Expired] = field(default_factory=list)
    kept: int = 0


def utc_today(now: Callable[[], float] = time.time) -> date:
    return datetime.fromtimestamp(now(), UTC).date()


def owner_of(name: str, router: Router, deadletter_router: Router) -> tuple[Router, date] | None:
    """The router whose pattern index *name* is of, and the day in it; None if neither's. The
    dead-letter pattern is tried first: its names match the log pattern too
    (``app-logs-deadletter-…`` is ``app-logs-{service}-…``)."""
    for owner in (deadletter_router, router):
        day = owner.date_of_index(name)
        if day is not None:
            return owner, day
    return None


def plan_sweep(
    indices: Iterable[str],
    router: Router,
    deadletter_router: Router,
    today: date,
    days: int,
    deadletter_days: int,
) -> SweepPlan:
    """Which of *indices* are expired (pure)."""
    if days < 1 or deadletter_days < 1:
        raise ValueError("retention must be at least 1 day: today's index is never deleted")
    result = SweepPlan()
    for name in sorted(set(indices)):
        owned = owner_of(name, router, deadletter_router)
        if owned is None:
            continue  # not ours
        owner, day = owned
        if owner is deadletter_router:
            kind, keep_days = "dead letters", deadletter_days
        else:
            kind, keep_days = "logs", days
        if day < today - timedelta(days=keep_days):
            result.expired.append(Expired(name, day, kind, (today - day).days))
        else:
            result.kept += 1
    return result


async def list_indices(es: AsyncElasticsearch, patterns: list[str]) -> list[str]:
    """Concrete indices (open or closed) matching *patterns*."""
    resolved = await call(
        "listing indices",
        es.indices.resolve_index(name=",".join(patterns), expand_wildcards="open,closed"),
    )
    return [entry["name"] for entry in resolved.get("indices", [])]


async def sweep(
    es: AsyncElasticsearch,
    index: IndexConfig,
    retention: RetentionConfig,
    *,
    dry_run: bool = False,
    today: date | None = None,
    on_delete: Callable[[Expired], None] | None = None,
) -> SweepPlan:
    """Delete (or with *dry_run* only list) the expired indices; the plan that was carried out."""
    names = await list_indices(es, [index.route_glob(), index.deadletter_index_glob()])
    plan = plan_sweep(
        names,
        index.router(),
        index.deadletter_router(),
        today or utc_today(),
        retention.days,
        retention.effective_deadletter_days,
    )
    if dry_run:
        return plan
    for start in range(0, len(plan.expired), _DELETE_CHUNK):
        chunk = plan.expired[start : start + _DELETE_CHUNK]
        await call(
            "deleting expired indices",
            es.indices.delete(
                index=",".join(e.index for e in chunk),
                expand_wildcards="none",
                ignore_unavailable=True,
            ),
        )
        if on_delete is not None:
            for expired in chunk:
                on_delete(expired)
    return plan
