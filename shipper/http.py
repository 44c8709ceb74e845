"""`/metrics`, `/healthz` and `/readyz` on one port, for Prometheus and sidecar probes.

Three GET endpoints need no web framework: this is asyncio's own server, one request per
connection (``Connection: close``, which Prometheus and probes handle). aiohttp's server cost
the shipper 12 MB of resident memory for these three answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shipper.errors import ConfigError
from shipper.memory import PROCESS_REGISTRY

__all__ = ["Readiness", "StatusServer"]

Readiness = Callable[[], dict[str, bool]]
"""Named checks; the process is ready when all are true."""

_REQUEST_TIMEOUT_S = 10.0
_MAX_HEAD_BYTES = 16 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}
_JSON = "application/json"


class StatusServer:
    """Serves the metrics of *registry* and of the process (memory, CPU, descriptors and the
    memory limit, :mod:`shipper.memory`); /readyz answers 503 naming the checks that fail."""

    def __init__(
        self,
        addr: str,
        registry: CollectorRegistry,
        readiness: Readiness,
        before_scrape: Callable[[], None] | None = None,
    ) -> None:
        host, _, port = addr.rpartition(":")
        self.host, self.port = host, int(port)
        self._registry = registry
        self._readiness = readiness
        # Gauges read from the process's state are set just before each scrape: a timer alone
        # would show a state that came and went between two ticks as never there.
        self._before_scrape = before_scrape
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind and serve in the background (port 0: a free port, then in `port`)."""
        try:
            server = await asyncio.start_server(
                self._serve, self.host, self.port, limit=_MAX_HEAD_BYTES
            )
        except OSError as exc:
            raise ConfigError(
                f"metrics_addr: cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from exc
        self.port = server.sockets[0].getsockname()[1]
        self._server = server

    async def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), timeout=1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path = _request_line(head)
            status, content_type, body = self._answer(method, path)
            writer.write(_response(status, content_type, body, include_body=method != "HEAD"))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass  # the client went away, or sent no request we can read: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        if not method:
            return 400, _JSON, b'{"status": "bad request"}'
        handler = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }.get(path)
        if handler is None:
            return 404, _JSON, b'{"status": "not found"}'
        if method not in ("GET", "HEAD"):
            return 405, _JSON, b'{"status": "method not allowed"}'
        return handler()

    def _metrics(self) -> tuple[int, str, bytes]:
        if self._before_scrape is not None:
            self._before_scrape()
        body = generate_latest(self._registry) + generate_latest(PROCESS_REGISTRY)
        return 200, CONTENT_TYPE_LATEST, body

    def _healthz(self) -> tuple[int, str, bytes]:
        # Answering at all proves the event loop is not stuck.
        return 200, _JSON, orjson.dumps({"status": "ok"})

    def _readyz(self) -> tuple[int, str, bytes]:
        checks = self._readiness()
        ready = all(checks.values())
        body = orjson.dumps({"status": "ready" if ready else "not ready", "checks": checks})
        return 200 if ready else 503, _JSON, body


def _request_line(head: bytes) -> tuple[str, str]:
    """(method, path without its query) of an HTTP request head; ("", "") if it is not one."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        return "", ""
    method, target = parts[0].decode("ascii", "replace"), parts[1].decode("ascii", "replace")
    return method, target.split("?", 1)[0]


def _response(status: int, content_type: str, body: bytes, *, include_body: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    return head + body if include_body else head
