"""The one middleware every request goes through: identity, faults, errors, the access line.

Order of work: read the request id and user, validate the per-request headers, write the
``X-Log-Extra-Lines`` lines, apply the route's fault (sleep, then maybe raise), run the handler,
turn any exception into a JSON answer, write the access line. Whatever happens, a request gets
an answer with ``X-Request-Id`` and exactly one access line.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
import uuid
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from loadtest.app.errors import AppError, RequestError, raise_fault
from loadtest.app.faults import NO_FAULT, Fault, FaultError, FaultTable
from loadtest.app.handlers import ADMIN_PREFIX, REQUEST_ID, USER_ID
from loadtest.app.logs import AppLogs

__all__ = [
    "ERROR_RATE_HEADER",
    "EXTRA_LINES_HEADER",
    "LATENCY_HEADER",
    "MAX_EXTRA_LINES",
    "MAX_ID_CHARS",
    "REQUEST_ID_HEADER",
    "USER_ID_HEADER",
    "clean_id",
    "make_middleware",
]

REQUEST_ID_HEADER: Final = "X-Request-Id"
USER_ID_HEADER: Final = "X-User-Id"
ERROR_RATE_HEADER: Final = "X-Fault-Error-Rate"
LATENCY_HEADER: Final = "X-Fault-Latency-Ms"
EXTRA_LINES_HEADER: Final = "X-Log-Extra-Lines"
MAX_EXTRA_LINES: Final = 1000
MAX_ID_CHARS: Final = 128
CLIENT_CLOSED_REQUEST: Final = 499
"""nginx's status for a request the client gave up on before the answer."""
_EXTRA_MESSAGES: Final = ("cache lookup", "query plan", "rows fetched", "cache store")


def clean_id(value: str | None) -> str:
    """A client-supplied id made safe to echo and log: printable characters, at most 128."""
    if not value:
        return ""
    if len(value) <= MAX_ID_CHARS and value.isprintable():
        return value
    return "".join(char for char in value if char.isprintable())[:MAX_ID_CHARS]


def _request_fault(request: web.Request, table: FaultTable, route: str | None) -> Fault:
    """The route's fault, with the per-request override headers applied field by field."""
    applies = route is not None and not route.startswith(ADMIN_PREFIX)
    fault = table.for_route(route) if route is not None and applies else NO_FAULT
    headers = request.headers
    rate, latency = headers.get(ERROR_RATE_HEADER), headers.get(LATENCY_HEADER)
    if rate is None and latency is None:
        return fault
    values: dict[str, Any] = fault.model_dump()
    for header, key, text in (
        (ERROR_RATE_HEADER, "error_rate", rate),
        (LATENCY_HEADER, "latency_ms", latency),
    ):
        if text is None:
            continue
        try:
            values[key] = float(text)
        except ValueError:
            raise RequestError(400, f"{header}: expected a number, got {text!r}") from None
    try:
        override = Fault.parse(values, where="fault headers")
    except FaultError as exc:
        raise RequestError(400, str(exc)) from exc
    # Admin endpoints never fail on purpose: the faults must always be clearable.
    return override if applies else NO_FAULT


def _extra_lines(request: web.Request) -> int:
    text = request.headers.get(EXTRA_LINES_HEADER)
    if text is None:
        return 0
    try:
        count = int(text)
    except ValueError:
        count = -1
    if not 0 <= count <= MAX_EXTRA_LINES:
        raise RequestError(
            400,
            f"{EXTRA_LINES_HEADER}: expected an integer from 0 to {MAX_EXTRA_LINES}, got {text!r}",
        )
    return count


def _error_response(status: int, message: str, request_id: str) -> web.Response:
    return web.json_response({"error": message, "request_id": request_id}, status=status)


def make_middleware(logs: AppLogs, faults: FaultTable, rng: random.Random) -> Middleware:
    """The access middleware of one app (its logs, its fault table, its random draws)."""
    access, orders = logs.access, logs.orders

    async def handle(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else None
        fault = _request_fault(request, faults, route)
        for step in range(1, _extra_lines(request) + 1):
            orders.info(
                _EXTRA_MESSAGES[(step - 1) % len(_EXTRA_MESSAGES)],
                extra={"request_id": request_id, "step": step},
            )
        if fault.latency_ms > 0.0:
            await asyncio.sleep(fault.latency_ms / 1000.0)
        if fault.error_rate > 0.0 and route is not None and rng.random() < fault.error_rate:
            raise_fault(route)
        return await handler(request)

    def log_access(
        request: web.Request,
        status: int,
        started: float,
        request_id: str,
        user_id: str,
        error: BaseException | None,
    ) -> None:
        level = (
            logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        )
        extra: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000.0, 3),
            "request_id": request_id,
            "user_id": user_id,
            "client_ip": request.remote or "",
            "user_agent": request.headers.get("User-Agent", ""),
        }
        if error is not None:
            extra["exc_type"] = type(error).__name__
            extra["exc_message"] = str(error)
            extra["stack_trace"] = "".join(traceback.format_exception(error)).rstrip()
        access.log(level, f"{request.method} {request.path} {status}", extra=extra)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = clean_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        user_id = clean_id(request.headers.get(USER_ID_HEADER)) or "anonymous"
        request[REQUEST_ID] = request_id
        request[USER_ID] = user_id
        error: BaseException | None = None
        response: web.StreamResponse
        try:
            response = await handle(request, handler, request_id)
        except RequestError as exc:
            response = _error_response(exc.status, exc.message, request_id)
        except web.HTTPException as exc:  # the router's 404 and 405, a too large body (413)
            response = _error_response(exc.status, exc.reason, request_id)
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except AppError as exc:
            error = exc
            response = _error_response(exc.status, exc.public_message, request_id)
        except asyncio.CancelledError:
            # The client went away (or the server is stopping): still one line for the request.
            log_access(request, CLIENT_CLOSED_REQUEST, started, request_id, user_id, None)
            raise
        except Exception as exc:
            error = exc
            response = _error_response(500, "internal error", request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        log_access(request, response.status, started, request_id, user_id, error)
        return response

    return middleware
