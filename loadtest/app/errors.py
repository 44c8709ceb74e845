"""The failures the demo shop can suffer, and the injection of one as a real raised exception.

Each exception carries the HTTP status it is answered with. :func:`raise_fault` raises the one
that fits the route from inside a stand-in for the dependency that would fail, so the logged
stack trace looks like the real thing (and chains the low-level cause, as real clients do).
"""

from __future__ import annotations

from typing import ClassVar, Final, NoReturn

__all__ = [
    "AppError",
    "DatabaseError",
    "DependencyUnavailable",
    "PaymentGatewayTimeout",
    "RequestError",
    "raise_fault",
]

PAYMENT_TIMEOUT_MS: Final = 3000


class RequestError(Exception):
    """The client asked for something wrong or missing (4xx); the message is for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AppError(Exception):
    """A server-side failure (5xx) the shop answers with :attr:`status`."""

    status: ClassVar[int] = 500
    public_message: ClassVar[str] = "internal error"


class PaymentGatewayTimeout(AppError):
    """The payment provider did not answer in time."""

    status = 503
    public_message = "payment service unavailable, try again"


class DatabaseError(AppError):
    """The orders database failed the query."""

    status = 500
    public_message = "internal error"


class DependencyUnavailable(AppError):
    """Some other dependency (cache, inventory) is down."""

    status = 503
    public_message = "service unavailable, try again"


def _payment_gateway_charge() -> NoReturn:
    try:
        raise TimeoutError("timed out")
    except TimeoutError as exc:
        raise PaymentGatewayTimeout(
            f"payment gateway did not answer in {PAYMENT_TIMEOUT_MS} ms"
        ) from exc


def _orders_db_query() -> NoReturn:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError as exc:
        raise DatabaseError(
            "connection to orders-db lost: server closed the connection unexpectedly"
        ) from exc


def _inventory_call() -> NoReturn:
    raise DependencyUnavailable("inventory service returned 503 Service Unavailable")


def raise_fault(route: str) -> NoReturn:
    """Raise the failure a request of *route* would meet (checkout: payment; orders: database)."""
    if route == "/checkout":
        _payment_gateway_charge()
    if route == "/orders" or route.startswith("/orders/"):
        _orders_db_query()
    _inventory_call()
