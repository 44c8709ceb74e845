"""Retention date math: which daily indices are expired."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.route import RouteConfig, Router
from shipper.indexer.retention import plan_sweep

TODAY = date(2026, 11, 23)
LOGS = Router(RouteConfig())
DEADLETTERS = Router(RouteConfig(index_pattern="app-logs-deadletter-{date}"))


def expired(indices: list[str], days: int = 30, deadletter_days: int = 30) -> list[str]:
    plan = plan_sweep(indices, LOGS, DEADLETTERS, TODAY, days, deadletter_days)
    return [e.index for e in plan.expired]


def test_an_index_is_deleted_once_all_its_day_is_older_than_the_retention() -> None:
    # day D holds events up to D 23:59:59: with 30 days, 2026-10-24 is the oldest day kept.
    assert expired(["app-logs-a-2026.10.24"]) == []
    assert expired(["app-logs-a-2026.10.23"]) == ["app-logs-a-2026.10.23"]


def test_today_and_future_days_are_never_deleted() -> None:
    indices = ["app-logs-a-2026.11.23", "app-logs-a-2026.11.24", "app-logs-a-2030.01.01"]
    assert expired(indices, days=1) == []


def test_with_one_day_yesterday_is_kept_and_the_day_before_goes() -> None:
    assert expired(["app-logs-a-2026.11.22", "app-logs-a-2026.11.21"], days=1) == [
        "app-logs-a-2026.11.21"
    ]


def test_indices_outside_the_pattern_are_never_touched() -> None:
    indices = [
        "app-logs-a-2020.01.01-restored",
        "other-logs-a-2020.01.01",
        "app-logs-2020.01.01",
        "app-logs-a-2020.13.45",  # not a day
        ".ds-logs-app-2020.01.01-000001",
        "app-logs-a-latest",
    ]
    assert expired(indices) == []


def test_service_names_with_dashes_are_read_correctly() -> None:
    assert expired(["app-logs-order-api-v2-2026.01.01"]) == ["app-logs-order-api-v2-2026.01.01"]


def test_dead_letters_have_their_own_retention() -> None:
    indices = ["app-logs-deadletter-2026.10.01", "app-logs-orders-2026.10.01"]
    plan = plan_sweep(indices, LOGS, DEADLETTERS, TODAY, 30, 90)
    assert [(e.index, e.kind) for e in plan.expired] == [("app-logs-orders-2026.10.01", "logs")]
    assert plan.kept == 1
    plan = plan_sweep(indices, LOGS, DEADLETTERS, TODAY, 90, 30)
    assert [(e.index, e.kind) for e in plan.expired] == [
        ("app-logs-deadletter-2026.10.01", "dead letters")
    ]


def test_other_date_formats_follow_the_router() -> None:
    router = Router(RouteConfig(index_pattern="logs2-{service}-{date}", date_format="%Y-%m-%d"))
    dead = Router(RouteConfig(index_pattern="logs2-dead-{date}", date_format="%Y-%m-%d"))
    plan = plan_sweep(["logs2-x-2026-01-01", "logs2-x-2026.01.01"], router, dead, TODAY, 30, 30)
    assert [e.index for e in plan.expired] == ["logs2-x-2026-01-01"]
    assert plan.expired[0].age_days == (TODAY - date(2026, 1, 1)).days


def test_retention_below_one_day_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        plan_sweep([], LOGS, DEADLETTERS, TODAY, 0, 30)
