"""The demo shop over HTTP: answers, one access line per request, faults, extra lines, rotation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from loadtest.app import Fault, FaultTable
from loadtest.app.middleware import clean_id
from loadtest.app.server import LOGS
from tests.unit.loadtest.support import Shop, running_shop

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|\+00:00)")
ACCESS_KEYS = [
    "time",
    "level",
    "logger",
    "message",
    "service",
    "method",
    "path",
    "status",
    "duration_ms",
    "request_id",
    "user_id",
    "client_ip",
    "user_agent",
]


async def call(
    shop: Shop, method: str, path: str, *, json: Any = None, **headers: str
) -> tuple[int, Any, str]:
    """(status, decoded body, request id) of one request."""
    async with shop.client.request(method, path, json=json, headers=headers) as response:
        body = await response.json()
        return response.status, body, response.headers["X-Request-Id"]


async def test_every_request_writes_one_access_line_with_its_fields(shop: Shop) -> None:
    requests = [
        ("GET", "/health", None, 200),
        ("GET", "/orders?limit=5", None, 200),
        ("GET", "/orders/search?q=pending", None, 200),
        ("GET", "/orders/1001", None, 200),
        ("GET", "/orders/999999", None, 404),
        ("GET", "/no/such/page", None, 404),
        ("POST", "/orders", {"items": [{"sku": "SKU-0001", "qty": 2, "price": 9.5}]}, 201),
        ("POST", "/checkout", {"order_id": 1001}, 200),
        ("GET", "/admin/faults", None, 200),
        ("DELETE", "/health", None, 405),
    ]
    seen: list[str] = []
    for method, path, body, status in requests:
        got, answer, request_id = await call(
            shop, method, path, json=body, **{"X-User-Id": "u-42", "User-Agent": "pytest/1"}
        )
        assert got == status, (path, answer)
        line = shop.access_line(request_id)
        assert list(line) == ACCESS_KEYS
        assert TIME_RE.fullmatch(line["time"])
        assert line["logger"] == "shop.access"
        assert line["service"] == "shop"
        assert line["method"] == method
        assert line["path"] == path.split("?")[0]
        assert line["status"] == status
        assert line["message"] == f"{method} {line['path']} {status}"
        assert line["level"] == ("WARNING" if status >= 400 else "INFO")
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert line["user_id"] == "u-42"
        assert line["client_ip"] == "127.0.0.1"
        assert line["user_agent"] == "pytest/1"
        seen.append(request_id)
    assert len(shop.lines()) == len(requests) == len(set(seen))


async def test_request_id_is_echoed_or_generated(shop: Shop) -> None:
    _, _, given = await call(shop, "GET", "/health", **{"X-Request-Id": "run1-abc-7"})
    assert given == "run1-abc-7"
    _, _, generated = await call(shop, "GET", "/health")
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    _, _, capped = await call(shop, "GET", "/health", **{"X-Request-Id": "r" * 500})
    assert capped == "r" * 128
    assert shop.access_line(generated)["user_id"] == "anonymous"
    assert [line["request_id"] for line in shop.access_lines()] == [
        given,
        generated,
        capped,
    ]


def test_client_ids_are_made_safe_to_log_and_echo() -> None:
    assert clean_id(None) == ""
    assert clean_id("run-1") == "run-1"
    assert clean_id("a\tb\r\nc\x7f") == "abc"
    assert clean_id("x" * 200) == "x" * 128


async def test_error_answers_carry_the_request_id(shop: Shop) -> None:
    status, body, request_id = await call(shop, "GET", "/orders/nope", **{"X-Request-Id": "r-1"})
    assert (status, body) == (404, {"error": "order nope not found", "request_id": "r-1"})
    assert request_id == "r-1"


async def test_orders_api(shop: Shop) -> None:
    status, listed, _ = await call(shop, "GET", "/orders?limit=3")
    assert status == 200 and listed["count"] == 3
    ids = [order["id"] for order in listed["orders"]]
    assert ids == sorted(ids, reverse=True)
    _, default, _ = await call(shop, "GET", "/orders")
    assert default["count"] == 20
    status, _, _ = await call(shop, "GET", "/orders?limit=0")
    assert status == 400
    status, found, _ = await call(shop, "GET", "/orders/search?q=PENDING&limit=100")
    assert status == 200 and found["count"] > 0
    assert all(order["status"] == "pending" for order in found["orders"])
    status, _, _ = await call(shop, "GET", "/orders/search")
    assert status == 400

    item = {"sku": "SKU-0042", "qty": 3, "price": 2.5}
    status, created, _ = await call(
        shop, "POST", "/orders", json={"items": [item]}, **{"X-User-Id": "u-9"}
    )
    assert status == 201
    assert created["items"] == [item] and created["total"] == 7.5
    assert created["user_id"] == "u-9" and created["status"] == "pending"
    status, fetched, _ = await call(shop, "GET", f"/orders/{created['id']}")
    assert (status, fetched) == (200, created)
    status, found, _ = await call(shop, "GET", "/orders/search?q=sku-0042")
    assert created["id"] in [order["id"] for order in found["orders"]]

    status, paid, _ = await call(shop, "POST", "/checkout", json={"order_id": str(created["id"])})
    assert status == 200
    assert paid["order_id"] == created["id"] and paid["status"] == "paid"
    assert paid["amount"] == 7.5 and paid["payment_id"].startswith("pay_")
    status, again, _ = await call(shop, "POST", "/checkout", json={"order_id": created["id"]})
    assert (status, again["status"]) == (200, "paid")
    status, missing, _ = await call(shop, "POST", "/checkout", json={"order_id": 5})
    assert (status, missing["error"]) == (404, "order 5 not found")


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/orders", b"{not json", "body is not valid JSON"),
        ("/orders", b"", "body is not valid JSON"),
        ("/orders", b"[]", "Input should be a valid dictionary"),
        ("/orders", b'{"items": []}', "items: List should have at least 1 item"),
        ("/orders", b'{"items": [{"sku": "a", "qty": 0, "price": 1}]}', "items.0.qty"),
        ("/orders", b'{"items": [{"sku": "a", "qty": 1.5, "price": 1}]}', "items.0.qty"),
        ("/orders", b'{"items": [{"sku": "a", "qty": 1, "price": -1}]}', "items.0.price"),
        ("/orders", b'{"items": [{"sku": "a", "qty": 1}]}', "items.0.price: Field required"),
        ("/orders", b'{"items": [], "coupon": "x"}', "items"),
        ("/checkout", b"{}", "order_id: expected an order id"),
        ("/checkout", b'{"order_id": true}', "order_id: expected an order id"),
        ("/checkout", b"null", "order_id: expected an order id"),
    ],
)
async def test_invalid_bodies_are_400_and_logged(
    shop: Shop, path: str, body: bytes, message: str
) -> None:
    async with shop.client.post(path, data=body) as response:
        assert response.status == 400
        answer = await response.json()
    assert message in answer["error"]
    line = shop.access_line(answer["request_id"])
    assert (line["status"], line["level"], line["path"]) == (400, "WARNING", path)
    assert "stack_trace" not in line


async def test_admin_fault_makes_checkout_fail_slowly_with_a_trace(shop: Shop) -> None:
    rules = {"/checkout": {"error_rate": 1.0, "latency_ms": 40}}
    status, table, _ = await call(shop, "PUT", "/admin/faults", json=rules)
    assert status == 200
    assert table["faults"] == {"/checkout": {"error_rate": 1.0, "latency_ms": 40.0}}
    assert TIME_RE.fullmatch(table["changed_at"])
    _, current, _ = await call(shop, "GET", "/admin/faults")
    assert current == table

    status, body, request_id = await call(shop, "POST", "/checkout", json={"order_id": 1001})
    assert (status, body["request_id"]) == (503, request_id)
    line = shop.access_line(request_id)
    assert line["level"] == "ERROR"
    assert line["exc_type"] == "PaymentGatewayTimeout"
    assert line["exc_message"] == "payment gateway did not answer in 3000 ms"
    assert line["stack_trace"].startswith("Traceback (most recent call last):")
    assert line["stack_trace"].endswith(
        "PaymentGatewayTimeout: payment gateway did not answer in 3000 ms"
    )
    assert line["duration_ms"] >= 40.0
    assert list(line)[len(ACCESS_KEYS) :] == ["exc_type", "exc_message", "stack_trace"]

    status, _, other = await call(shop, "GET", "/orders")  # no rule for /orders: untouched
    assert status == 200
    assert shop.access_line(other)["duration_ms"] < 40.0

    status, cleared, _ = await call(shop, "DELETE", "/admin/faults")
    assert (status, cleared["faults"]) == (200, {})
    status, _, _ = await call(shop, "POST", "/checkout", json={"order_id": 1001})
    assert status == 200


async def test_star_rule_and_exact_rule(shop: Shop) -> None:
    rules = {"*": {"error_rate": 1.0}, "/orders/search": {"error_rate": 0.0}}
    status, _, _ = await call(shop, "PUT", "/admin/faults", json=rules)
    assert status == 200
    status, _, request_id = await call(shop, "GET", "/orders/1001")
    assert status == 500
    assert shop.access_line(request_id)["exc_type"] == "DatabaseError"
    status, _, _ = await call(shop, "GET", "/orders/search?q=paid")
    assert status == 200
    status, _, _ = await call(shop, "GET", "/no/such/page")
    assert status == 404  # no route, no fault
    # The admin endpoints are exempt, so the faults can always be cleared.
    status, _, _ = await call(shop, "GET", "/admin/faults", **{"X-Fault-Error-Rate": "1"})
    assert status == 200


async def test_invalid_admin_body_is_400_and_keeps_the_table(shop: Shop) -> None:
    await call(shop, "PUT", "/admin/faults", json={"/checkout": {"error_rate": 0.25}})
    status, body, request_id = await call(
        shop, "PUT", "/admin/faults", json={"/checkout": {"error_rate": 2}}
    )
    assert status == 400
    assert body["error"] == "route '/checkout': error_rate: Input should be less than or equal to 1"
    assert shop.access_line(request_id)["level"] == "WARNING"
    _, current, _ = await call(shop, "GET", "/admin/faults")
    assert current["faults"] == {"/checkout": {"error_rate": 0.25, "latency_ms": 0.0}}


async def test_fault_table_given_to_the_app(tmp_path: Path) -> None:
    table = FaultTable({"/health": Fault(error_rate=1.0)})
    async with running_shop(tmp_path, faults=table) as shop:
        status, _, request_id = await call(shop, "GET", "/health")
        assert status == 503
        assert shop.access_line(request_id)["exc_type"] == "DependencyUnavailable"


async def test_fault_headers_override_the_table(shop: Shop) -> None:
    status, _, request_id = await call(shop, "GET", "/orders", **{"X-Fault-Error-Rate": "1"})
    assert status == 500
    line = shop.access_line(request_id)
    assert (line["level"], line["exc_type"]) == ("ERROR", "DatabaseError")
    assert "Traceback" in line["stack_trace"]

    status, _, request_id = await call(shop, "GET", "/health", **{"X-Fault-Latency-Ms": "30"})
    assert status == 200
    assert shop.access_line(request_id)["duration_ms"] >= 30.0

    await call(shop, "PUT", "/admin/faults", json={"/checkout": {"error_rate": 1.0}})
    status, _, _ = await call(
        shop, "POST", "/checkout", json={"order_id": 1001}, **{"X-Fault-Error-Rate": "0"}
    )
    assert status == 200


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Fault-Error-Rate", "often"),
        ("X-Fault-Error-Rate", "1.5"),
        ("X-Fault-Error-Rate", "nan"),
        ("X-Fault-Latency-Ms", "-5"),
        ("X-Log-Extra-Lines", "1001"),
        ("X-Log-Extra-Lines", "-1"),
        ("X-Log-Extra-Lines", "3.5"),
    ],
)
async def test_invalid_headers_are_400(shop: Shop, header: str, value: str) -> None:
    status, body, request_id = await call(shop, "GET", "/orders", **{header: value})
    assert status == 400
    assert body["error"].startswith(("X-", "fault headers:"))
    assert shop.access_line(request_id)["status"] == 400
    assert len(shop.lines()) == 1


async def test_extra_lines_come_before_the_access_line(shop: Shop) -> None:
    status, _, request_id = await call(shop, "GET", "/orders", **{"X-Log-Extra-Lines": "5"})
    assert status == 200
    lines = shop.lines()
    assert len(lines) == 6
    extra, access = lines[:5], lines[5]
    assert access["logger"] == "shop.access" and access["request_id"] == request_id
    assert [line["step"] for line in extra] == [1, 2, 3, 4, 5]
    for line in extra:
        assert (line["logger"], line["level"], line["service"]) == ("shop.orders", "INFO", "shop")
        assert line["request_id"] == request_id
        assert line["message"] in {"cache lookup", "query plan", "rows fetched", "cache store"}
        assert "status" not in line
    await call(shop, "GET", "/health", **{"X-Log-Extra-Lines": "0"})
    assert len(shop.lines()) == 7


async def test_unexpected_handler_error_is_a_logged_500(tmp_path: Path) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise KeyError("basket")

    def add_broken(app: web.Application) -> None:
        app.router.add_get("/broken", broken)

    async with running_shop(tmp_path, setup=add_broken) as shop:
        status, body, request_id = await call(shop, "GET", "/broken")
        assert (status, body["error"]) == (500, "internal error")
        line = shop.access_line(request_id)
        assert (line["level"], line["exc_type"]) == ("ERROR", "KeyError")
        assert "raise KeyError" in line["stack_trace"]
        status, _, _ = await call(shop, "GET", "/health")  # still serving
        assert status == 200


async def test_rotation_keeps_every_access_line_exactly_once(tmp_path: Path) -> None:
    sent: list[str] = []
    async with running_shop(tmp_path, rotate_bytes=4096, rotate_keep=1000) as shop:
        for n in range(300):
            request_id = f"rot-{n}"
            async with shop.client.get("/health", headers={"X-Request-Id": request_id}) as response:
                assert response.status == 200
            sent.append(request_id)
        files = sorted(shop.log_file.parent.glob("app.log*"))
    assert len(files) > 10
    assert all(path.stat().st_size <= 4096 for path in files)
    found: list[str] = []
    for path in files:
        found += [
            line["request_id"]
            for line in map(json.loads, path.read_text().splitlines())
            if line["logger"] == "shop.access"
        ]
    assert sorted(found) == sorted(sent)
    assert len(set(found)) == 300


async def test_the_log_file_is_closed_with_the_app(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop:
        await call(shop, "GET", "/health")
        handler = shop.client.app[LOGS].handler
    assert handler.stream is None or handler.stream.closed
