"""The shop's orders: an in-memory store, seeded so every run starts with the same catalogue."""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_ORDERS", "SEED_ORDERS", "Item", "NewOrder", "Order", "OrderStore"]

SEED_ORDERS: Final = 50
MAX_ORDERS: Final = 1_000
"""A load test posts orders for hours: the oldest are forgotten so memory and searches stay flat."""
FIRST_ORDER_ID: Final = 1001
_SKUS: Final = tuple(f"SKU-{n:04d}" for n in range(1, 201))
_STATUSES: Final = ("pending", "pending", "pending", "paid", "shipped")


class Item(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    sku: str = Field(min_length=1, max_length=64, description="Stock keeping unit.")
    qty: int = Field(gt=0, le=10_000, description="Quantity, at least 1.")
    price: float = Field(ge=0, le=1_000_000, description="Unit price.")


class NewOrder(BaseModel):
    """The body of ``POST /orders``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    items: list[Item] = Field(min_length=1, max_length=100, description="What is bought.")


@dataclass(slots=True)
class Order:
    """A stored order."""

    id: int
    user_id: str
    status: str
    items: list[Item]
    total: float
    created_at: float
    search_text: str = field(init=False, repr=False)
    """User and SKUs, lower-cased once, so a search does no per-request string work on them."""
    items_json: list[dict[str, Any]] = field(init=False, repr=False)
    """The items as the API shows them, built once: listing orders is the busiest request."""

    def __post_init__(self) -> None:
        self.search_text = " ".join([self.user_id, *(item.sku for item in self.items)]).lower()
        self.items_json = [item.model_dump() for item in self.items]

    def matches(self, needle: str) -> bool:
        """Whether a lower-cased search term is in the user, the status or a SKU."""
        return needle in self.search_text or needle in self.status

    def to_json(self) -> dict[str, Any]:
        """The order as the API returns it."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "status": self.status,
            "items": self.items_json,
            "total": self.total,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at)),
        }


class OrderStore:
    """Orders by id, newest last; at most :data:`MAX_ORDERS` are kept."""

    def __init__(self, *, seed_orders: int = SEED_ORDERS, max_orders: int = MAX_ORDERS) -> None:
        self._orders: OrderedDict[int, Order] = OrderedDict()
        self._next_id = FIRST_ORDER_ID
        self._max_orders = max_orders
        # A fixed seed: load scenarios may rely on the seeded ids and contents.
        rng = random.Random(0)
        start = time.time() - 86_400
        for n in range(seed_orders):
            items = [
                Item(
                    sku=rng.choice(_SKUS), qty=rng.randint(1, 3), price=rng.randint(199, 4999) / 100
                )
                for _ in range(rng.randint(1, 4))
            ]
            self._add(f"user-{rng.randint(1, 20)}", items, rng.choice(_STATUSES), start + n * 60)

    def __len__(self) -> int:
        return len(self._orders)

    def _add(self, user_id: str, items: list[Item], status: str, created_at: float) -> Order:
        total = round(sum(item.price * item.qty for item in items), 2)
        order = Order(
            id=self._next_id,
            user_id=user_id,
            status=status,
            items=items,
            total=total,
            created_at=created_at,
        )
        self._next_id += 1
        self._orders[order.id] = order
        while len(self._orders) > self._max_orders:
            self._orders.popitem(last=False)
        return order

    def create(self, user_id: str, new: NewOrder) -> Order:
        """Store a new pending order."""
        return self._add(user_id, list(new.items), "pending", time.time())

    def get(self, order_id: int) -> Order | None:
        """The order, or ``None``."""
        return self._orders.get(order_id)

    def latest(self, limit: int) -> list[Order]:
        """The *limit* newest orders, newest first."""
        result: list[Order] = []
        for order in reversed(self._orders.values()):
            if len(result) >= limit:
                break
            result.append(order)
        return result

    def search(self, query: str, limit: int) -> list[Order]:
        """Up to *limit* orders matching *query* (user, status or SKU substring), newest first."""
        needle = query.strip().lower()
        result: list[Order] = []
        for order in reversed(self._orders.values()):
            if len(result) >= limit:
                break
            if order.matches(needle):
                result.append(order)
        return result

    def pay(self, order_id: int) -> Order | None:
        """Mark a pending order paid; paying again is a no-op (checkout is idempotent)."""
        order = self._orders.get(order_id)
        if order is not None and order.status == "pending":
            order.status = "paid"
        return order
