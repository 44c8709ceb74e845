"""Creating tomorrow's indices before midnight: which names, and when (pure parts)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipelines.route import RouteConfig, Router
from shipper.indexer.ahead import plan_ahead, seconds_to_window

TODAY = date(2026, 11, 23)
LOGS = Router(RouteConfig())
DEADLETTERS = Router(RouteConfig(index_pattern="app-logs-deadletter-{date}"))


def planned(indices: list[str]) -> list[str]:
    return plan_ahead(indices, LOGS, DEADLETTERS, TODAY)


def test_each_index_of_today_gets_its_service_s_index_of_tomorrow() -> None:
    indices = ["app-logs-orders-2026.11.23", "app-logs-my-svc-2026.11.23"]
    assert planned(indices) == ["app-logs-my-svc-2026.11.24", "app-logs-orders-2026.11.24"]


def test_a_dead_letter_index_stays_a_dead_letter_index() -> None:
    # Its name matches the log pattern too (service "deadletter"); either way the same name.
    assert planned(["app-logs-deadletter-2026.11.23"]) == ["app-logs-deadletter-2026.11.24"]


def test_only_today_s_indices_count_and_existing_ones_are_left_alone() -> None:
    indices = [
        "app-logs-old-2026.11.22",  # wrote yesterday, not today
        "app-logs-late-2026.10.01",
        "app-logs-orders-2026.11.23",
        "app-logs-orders-2026.11.24",  # exists already (another indexer was first)
        "app-logs-future-2026.11.24",
        "other-2026.11.23",
        "app-logs-x-2026.13.23",  # not a day: not ours
    ]
    assert planned(indices) == []


def test_a_custom_pattern_and_date_format() -> None:
    router = Router(RouteConfig(index_pattern="{date}-{service}-logs", date_format="%Y-%m-%d"))
    assert plan_ahead(["2026-11-23-checkout-logs"], router, DEADLETTERS, TODAY) == [
        "2026-11-24-checkout-logs"
    ]
    no_service = Router(RouteConfig(index_pattern="all-logs-{date}"))
    assert plan_ahead(["all-logs-2026.11.23"], no_service, DEADLETTERS, TODAY) == [
        "all-logs-2026.11.24"
    ]


def test_the_month_and_year_roll_over() -> None:
    assert plan_ahead(["app-logs-a-2026.12.31"], LOGS, DEADLETTERS, date(2026, 12, 31)) == [
        "app-logs-a-2027.01.01"
    ]


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("now", "ahead_min", "wait_s"),
    [
        ("2026-11-23T00:00:00", 30, 23.5 * 3600),
        ("2026-11-23T23:00:00", 30, 1800),
        ("2026-11-23T23:30:00", 30, 0),  # the window opens
        ("2026-11-23T23:59:59", 30, 0),
        ("2026-11-24T00:00:00", 30, 23.5 * 3600),  # a new day: tomorrow's window
        ("2026-11-23T12:00:00", 1440, 0),  # a whole day ahead: always
    ],
)
def test_the_window_is_the_last_minutes_before_midnight_utc(
    now: str, ahead_min: float, wait_s: float
) -> None:
    assert seconds_to_window(_at(now), ahead_min * 60) == pytest.approx(wait_s)
