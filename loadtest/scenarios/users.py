"""Locust users that shop at the demo app, tagging every request with an ID the harness can find.

Each request carries ``X-Request-Id: <run id>-<user>-<n>``; the app logs it, logferry ships it,
and the harness later looks for exactly one log line per ID in Elasticsearch. Every ID is also
appended to the request log with the status the user saw (0: no response at all).
"""

from __future__ import annotations

import itertools
import random
import uuid
from typing import IO, Any, ClassVar

from locust import HttpUser, between, events, task

from loadtest.scenarios.environment import LocustSettings
from loadtest.scenarios.spec import Scenario

__all__ = ["ShopUser"]

_SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 201))
_SEARCH_TERMS = ("pending", "paid", "shipped", "SKU-00", "SKU-01", "gift", "express")


class _RequestLog:
    """``<request id> <status>`` lines, one per request, for the harness to match against."""

    def __init__(self) -> None:
        self._file: IO[str] | None = None

    def open(self, settings: LocustSettings) -> None:
        if settings.request_log is not None and self._file is None:
            settings.request_log.parent.mkdir(parents=True, exist_ok=True)
            self._file = settings.request_log.open("a", buffering=1 << 16)

    def record(self, request_id: str, status: int) -> None:
        if self._file is not None:
            self._file.write(f"{request_id} {status}\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


_REQUEST_LOG = _RequestLog()


def _close_request_log(**_: Any) -> None:
    _REQUEST_LOG.close()


events.quitting.add_listener(_close_request_log)  # type: ignore[no-untyped-call]


class ShopUser(HttpUser):
    """Browses, searches, orders and checks out, like a shop's customers do."""

    abstract = True
    scenario: ClassVar[Scenario]
    wait_time = between(0.05, 0.4)

    def on_start(self) -> None:
        """Give this user its IDs and open the request log."""
        self.settings = LocustSettings.from_env(self.scenario)
        _REQUEST_LOG.open(self.settings)
        self.user_id = f"u-{random.randrange(1, 5000)}"
        self._ids = (
            f"{self.settings.run_id}-{uuid.uuid4().hex[:8]}-{n}" for n in itertools.count()
        )
        self.order_ids: list[str] = []

    def _request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        expected: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> Any:
        """One request; a status in *expected* is the answer wanted, not a failure to Locust."""
        request_id = next(self._ids)
        headers = {"X-Request-Id": request_id, "X-User-Id": self.user_id}
        if self.scenario.extra_log_lines:
            headers["X-Log-Extra-Lines"] = str(self.scenario.extra_log_lines)
        with self.client.request(
            method, path, name=name or path, headers=headers, catch_response=True, **kwargs
        ) as response:
            if response.status_code in expected:
                response.success()
        _REQUEST_LOG.record(request_id, response.status_code or 0)
        return response

    @task(5)
    def list_orders(self) -> None:
        """The busiest page: the order list."""
        response = self._request(
            "GET", f"/orders?limit={random.choice((10, 20, 50))}", name="/orders"
        )
        if response.status_code == 200:
            self.order_ids = _order_ids(response.json()) or self.order_ids

    @task(3)
    def search_orders(self) -> None:
        """Search by a status word or a SKU prefix."""
        term = random.choice(_SEARCH_TERMS)
        self._request("GET", f"/orders/search?q={term}", name="/orders/search")

    @task(3)
    def view_order(self) -> None:
        """One order; now and then one that does not exist (a 404 is normal traffic)."""
        order_id = (
            random.choice(self.order_ids)
            if self.order_ids and random.random() > 0.05
            else "missing"
        )
        expected = (404,) if order_id == "missing" else ()
        self._request("GET", f"/orders/{order_id}", name="/orders/{id}", expected=expected)

    @task(2)
    def create_order(self) -> None:
        """Put one to three items in a new order."""
        items = [
            {
                "sku": random.choice(_SKUS),
                "qty": random.randint(1, 3),
                "price": round(random.uniform(2, 90), 2),
            }
            for _ in range(random.randint(1, 3))
        ]
        response = self._request("POST", "/orders", json={"items": items})
        if response.status_code == 201:
            created = _order_ids([response.json()])
            self.order_ids = (self.order_ids + created)[-50:]

    @task(1)
    def checkout(self) -> None:
        """Pay for an order this user knows about."""
        if self.order_ids:
            self._request("POST", "/checkout", json={"order_id": random.choice(self.order_ids)})

    @task(1)
    def health(self) -> None:
        """What a load balancer does all day."""
        self._request("GET", "/health")


def _order_ids(body: Any) -> list[str]:
    """The ``id`` of each order in a list answer (``[...]`` or ``{"orders": [...]}``)."""
    orders = body.get("orders", body.get("results", [])) if isinstance(body, dict) else body
    if not isinstance(orders, list):
        return []
    return [str(order["id"]) for order in orders if isinstance(order, dict) and "id" in order]
