"""`/metrics`, `/healthz` and `/readyz` on one port, for Prometheus and sidecar probes."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shipper.errors import ConfigError
from shipper.memory import PROCESS_REGISTRY

__all__ = ["Readiness", "StatusServer"]

Readiness = Callable[[], dict[str, bool]]
"""Named checks; the process is ready when all are true."""


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
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve in the background."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"metrics_addr: cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from exc
        self._runner = runner

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _: web.Request) -> web.Response:
        if self._before_scrape is not None:
            self._before_scrape()
        body = generate_latest(self._registry) + generate_latest(PROCESS_REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        # Answering at all proves the event loop is not stuck.
        return web.json_response({"status": "ok"})

    async def _readyz(self, _: web.Request) -> web.Response:
        checks = self._readiness()
        ready = all(checks.values())
        body = orjson.dumps({"status": "ready" if ready else "not ready", "checks": checks})
        return web.Response(
            body=body, status=200 if ready else 503, content_type="application/json"
        )
