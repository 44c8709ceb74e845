"""Build the demo shop as an aiohttp application, and serve it until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import random
import signal

from aiohttp import web

from loadtest.app.config import AppConfig
from loadtest.app.faults import FaultTable
from loadtest.app.handlers import FAULTS, STORE, add_routes
from loadtest.app.logs import AppLogs
from loadtest.app.middleware import make_middleware
from loadtest.app.store import OrderStore
from shipper.errors import ConfigError

__all__ = ["LOGS", "SHUTDOWN_TIMEOUT_S", "build_app", "serve"]

LOGS = web.AppKey("logs", AppLogs)
SHUTDOWN_TIMEOUT_S = 5.0
"""How long requests in flight (some sleeping for a latency fault) may finish after a signal."""


def build_app(config: AppConfig, faults: FaultTable | None = None) -> web.Application:
    """The shop: its routes, its middleware, and its log file (closed on the app's cleanup)."""
    logs = AppLogs(config)
    table = FaultTable() if faults is None else faults
    app = web.Application(middlewares=[make_middleware(logs, table, random.Random(config.seed))])
    app[LOGS] = logs
    app[FAULTS] = table
    app[STORE] = OrderStore()
    add_routes(app)

    async def close_logs(app: web.Application) -> None:
        app[LOGS].close()

    app.on_cleanup.append(close_logs)
    return app


def _listen_error(config: AppConfig, exc: OSError) -> str:
    where = f"{config.host}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return f"port: {where} is already in use (choose another with --port)"
    if exc.errno == errno.EACCES:
        return f"port: permission denied to listen on {where}"
    return f"host: cannot listen on {where}: {exc.strerror or exc}"


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        # A second signal during the drain gets the default action: stop at once.
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _serve(config: AppConfig) -> None:
    try:
        app = build_app(config)
    except OSError as exc:
        raise ConfigError(
            f"log_file: cannot open {config.log_file}: {exc.strerror or exc}"
        ) from exc
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(_listen_error(config, exc)) from exc
        port = runner.addresses[0][1]
        print(f"listening on http://{config.host}:{port}, logging to {config.log_file}", flush=True)
        await _wait_for_signal()
    finally:
        await runner.cleanup()


def serve(config: AppConfig) -> None:
    """Serve until SIGINT or SIGTERM, then drain, close the log and return."""
    asyncio.run(_serve(config))
