"""The shop's endpoints: orders, checkout, health, and the fault admin.

Handlers raise :class:`~loadtest.app.errors.RequestError` for a bad request; the middleware
answers it (and everything else) and writes the access line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

from aiohttp import web
from pydantic import ValidationError

from loadtest.app.errors import RequestError
from loadtest.app.faults import FaultError, FaultTable
from loadtest.app.store import NewOrder, OrderStore

__all__ = [
    "ADMIN_PREFIX",
    "FAULTS",
    "FAULT_ROUTES",
    "REQUEST_ID",
    "STORE",
    "USER_ID",
    "add_routes",
]

STORE: Final = web.AppKey("store", OrderStore)
FAULTS: Final = web.AppKey("faults", FaultTable)
FAULT_ROUTES: Final = web.AppKey("fault_routes", frozenset[str])
"""The routes a fault rule may name (every route but the admin ones)."""
REQUEST_ID: Final = web.RequestKey("request_id", str)
USER_ID: Final = web.RequestKey("user_id", str)

ADMIN_PREFIX: Final = "/admin/"
DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100


def _limit(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestError(400, f"limit: expected an integer from 1 to {MAX_LIMIT}, got {text!r}")
    return limit


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RequestError(400, f"body is not valid JSON: {exc}") from exc


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _order_id(value: Any) -> int | None:
    """An order id from JSON: an integer, or its decimal string (clients often keep ids as text)."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdecimal() and len(value) < 19:
        return int(value)
    return None


async def health(request: web.Request) -> web.Response:
    """``GET /health``."""
    return web.json_response({"status": "ok"})


async def list_orders(request: web.Request) -> web.Response:
    """``GET /orders?limit=N``: the newest orders."""
    orders = request.app[STORE].latest(_limit(request))
    return web.json_response(
        {"orders": [order.to_json() for order in orders], "count": len(orders)}
    )


async def search_orders(request: web.Request) -> web.Response:
    """``GET /orders/search?q=…``: orders whose user, status or a SKU contains ``q``."""
    query = request.query.get("q", "").strip()
    if not query:
        raise RequestError(400, "q: a search term is required (user, status or SKU)")
    orders = request.app[STORE].search(query, _limit(request))
    return web.json_response(
        {"orders": [order.to_json() for order in orders], "count": len(orders)}
    )


async def get_order(request: web.Request) -> web.Response:
    """``GET /orders/{id}``."""
    text = request.match_info["id"]
    order_id = _order_id(text)
    order = None if order_id is None else request.app[STORE].get(order_id)
    if order is None:
        raise RequestError(404, f"order {text} not found")
    return web.json_response(order.to_json())


async def create_order(request: web.Request) -> web.Response:
    """``POST /orders`` with ``{"items": [{"sku", "qty", "price"}]}``: 201 and the order."""
    body = await _json_body(request)
    try:
        new = NewOrder.model_validate(body)
    except ValidationError as exc:
        raise RequestError(400, _validation_message(exc)) from exc
    order = request.app[STORE].create(request[USER_ID], new)
    return web.json_response(order.to_json(), status=201)


async def checkout(request: web.Request) -> web.Response:
    """``POST /checkout`` with ``{"order_id": N}``: pays the order (paying twice is a no-op)."""
    body = await _json_body(request)
    value = body.get("order_id") if isinstance(body, dict) else None
    order_id = _order_id(value)
    if order_id is None:
        raise RequestError(400, 'order_id: expected an order id, as in {"order_id": 1001}')
    order = request.app[STORE].pay(order_id)
    if order is None:
        raise RequestError(404, f"order {order_id} not found")
    return web.json_response(
        {
            "order_id": order.id,
            "status": order.status,
            "amount": order.total,
            "payment_id": f"pay_{uuid.uuid4().hex[:16]}",
        }
    )


def _faults_json(table: FaultTable) -> dict[str, Any]:
    return {"faults": table.to_json(), "changed_at": _iso(table.changed_at)}


def _iso(epoch: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


async def get_faults(request: web.Request) -> web.Response:
    """``GET /admin/faults``: the rules and when they changed."""
    return web.json_response(_faults_json(request.app[FAULTS]))


async def put_faults(request: web.Request) -> web.Response:
    """``PUT /admin/faults`` with ``{route: {"error_rate", "latency_ms"}}``: replace the table."""
    body = await _json_body(request)
    try:
        rules = FaultTable.parse_rules(body, request.app[FAULT_ROUTES])
    except FaultError as exc:
        raise RequestError(400, str(exc)) from exc
    table = request.app[FAULTS]
    table.replace(rules)
    return web.json_response(_faults_json(table))


async def delete_faults(request: web.Request) -> web.Response:
    """``DELETE /admin/faults``: no faults any more."""
    table = request.app[FAULTS]
    table.clear()
    return web.json_response(_faults_json(table))


def add_routes(app: web.Application) -> None:
    """Register every endpoint (``/orders/search`` before ``/orders/{id}``, which would match it)."""
    router = app.router
    router.add_get("/health", health)
    router.add_get("/orders", list_orders)
    router.add_post("/orders", create_order)
    router.add_get("/orders/search", search_orders)
    router.add_get("/orders/{id}", get_order)
    router.add_post("/checkout", checkout)
    router.add_get("/admin/faults", get_faults)
    router.add_put("/admin/faults", put_faults)
    router.add_delete("/admin/faults", delete_faults)
    app[FAULT_ROUTES] = frozenset(
        resource.canonical
        for resource in router.resources()
        if not resource.canonical.startswith(ADMIN_PREFIX)
    )
