"""The fault model: validation, route matching, the `*` fallback, the change time."""

from __future__ import annotations

import math

import pytest

from loadtest.app.errors import (
    DatabaseError,
    DependencyUnavailable,
    PaymentGatewayTimeout,
    raise_fault,
)
from loadtest.app.faults import NO_FAULT, Fault, FaultError, FaultTable

ROUTES = frozenset({"/checkout", "/orders", "/orders/search", "/orders/{id}", "/health"})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_exact_rule_wins_over_star() -> None:
    table = FaultTable({"/checkout": Fault(error_rate=0.5), "*": Fault(latency_ms=20.0)})
    assert table.for_route("/checkout") == Fault(error_rate=0.5)
    assert table.for_route("/orders/search") == Fault(latency_ms=20.0)


def test_no_rule_is_no_fault() -> None:
    table = FaultTable({"/checkout": Fault(error_rate=1.0)})
    assert table.for_route("/orders") is NO_FAULT
    assert not NO_FAULT.active
    assert FaultTable().for_route("/checkout") is NO_FAULT


def test_routes_match_exactly_not_by_prefix() -> None:
    table = FaultTable({"/orders": Fault(error_rate=1.0)})
    assert table.for_route("/orders/search") is NO_FAULT
    assert table.for_route("/orders/{id}") is NO_FAULT


def test_set_replace_clear_and_changed_at() -> None:
    clock = Clock()
    table = FaultTable(clock=clock)
    assert table.changed_at == 100.0
    clock.now = 101.0
    table.set("/checkout", Fault(error_rate=0.2))
    assert table.changed_at == 101.0
    assert table.rules == {"/checkout": Fault(error_rate=0.2)}
    clock.now = 102.0
    table.replace({"*": Fault(latency_ms=5.0)})
    assert table.rules == {"*": Fault(latency_ms=5.0)}
    assert table.changed_at == 102.0
    clock.now = 103.0
    table.remove("*")
    assert table.rules == {}
    table.set("/orders", Fault(error_rate=1.0))
    clock.now = 104.0
    table.clear()
    assert table.rules == {}
    assert table.changed_at == 104.0


def test_rules_is_a_copy() -> None:
    table = FaultTable({"/checkout": Fault(error_rate=1.0)})
    table.rules.clear()
    assert table.for_route("/checkout").error_rate == 1.0


def test_parse_rules_round_trips_to_json() -> None:
    data = {"/checkout": {"error_rate": 0.5, "latency_ms": 0}, "*": {"latency_ms": 250}}
    rules = FaultTable.parse_rules(data, ROUTES)
    assert rules == {"/checkout": Fault(error_rate=0.5), "*": Fault(latency_ms=250.0)}
    table = FaultTable(rules)
    assert FaultTable.parse_rules(table.to_json(), ROUTES) == rules
    assert table.to_json() == {
        "*": {"error_rate": 0.0, "latency_ms": 250.0},
        "/checkout": {"error_rate": 0.5, "latency_ms": 0.0},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected an object"),
        ({"/checkout": 0.5}, "route '/checkout': expected an object"),
        ({"/checkout": {"error_rate": 1.5}}, "route '/checkout': error_rate: Input should be less"),
        ({"/checkout": {"error_rate": -0.1}}, "error_rate: Input should be greater"),
        ({"/checkout": {"error_rate": "0.5"}}, "error_rate: Input should be a valid number"),
        ({"/checkout": {"error_rate": True}}, "error_rate: Input should be a valid number"),
        ({"/checkout": {"latency_ms": -1}}, "latency_ms: Input should be greater"),
        ({"/checkout": {"latency_ms": 3_600_000}}, "latency_ms: Input should be less"),
        ({"/checkout": {"latency": 5}}, "route '/checkout': latency: Extra inputs"),
        ({"/chekout": {"error_rate": 0.5}}, "route '/chekout': no such route (known: /checkout"),
        ({"checkout": {}}, "must be '*' or a path starting with '/'"),
        ({"": {}}, "must be a non-empty string"),
    ],
)
def test_invalid_rules_say_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(FaultError) as caught:
        FaultTable.parse_rules(data, ROUTES)
    assert message in str(caught.value)


def test_non_finite_values_are_refused() -> None:
    for value in (math.nan, math.inf):
        with pytest.raises(FaultError, match="finite"):
            Fault.parse({"latency_ms": value})


def test_without_known_routes_any_path_is_accepted() -> None:
    assert FaultTable.parse_rules({"/anything": {}}) == {"/anything": NO_FAULT}


def test_replace_refuses_a_malformed_route() -> None:
    with pytest.raises(FaultError):
        FaultTable().replace({"checkout": Fault()})


@pytest.mark.parametrize(
    ("route", "error", "status"),
    [
        ("/checkout", PaymentGatewayTimeout, 503),
        ("/orders", DatabaseError, 500),
        ("/orders/{id}", DatabaseError, 500),
        ("/orders/search", DatabaseError, 500),
        ("/health", DependencyUnavailable, 503),
    ],
)
def test_each_route_fails_its_own_way(route: str, error: type[Exception], status: int) -> None:
    with pytest.raises(error) as caught:
        raise_fault(route)
    assert getattr(caught.value, "status", None) == status
    assert str(caught.value)
