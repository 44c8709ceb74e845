"""Helpers shared by the demo app tests: a running shop on a test server, and its log lines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from loadtest.app import AppConfig, FaultTable, build_app

ShopFactory = Callable[..., AbstractAsyncContextManager["Shop"]]


@dataclass
class Shop:
    """A shop served on a free port, its client and its log file."""

    client: TestClient[web.Request, web.Application]
    log_file: Path

    def lines(self) -> list[dict[str, Any]]:
        """Every line of the current log file, decoded."""
        if not self.log_file.exists():
            return []
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def access_lines(self) -> list[dict[str, Any]]:
        """The access lines of the current log file."""
        return [line for line in self.lines() if line["logger"] == "shop.access"]

    def access_line(self, request_id: str) -> dict[str, Any]:
        """The one access line of *request_id*."""
        found = [line for line in self.access_lines() if line["request_id"] == request_id]
        assert len(found) == 1, f"{len(found)} access lines for {request_id}"
        return found[0]


@asynccontextmanager
async def running_shop(
    tmp_path: Path,
    faults: FaultTable | None = None,
    setup: Callable[[web.Application], None] | None = None,
    **config: Any,
) -> AsyncIterator[Shop]:
    """A shop logging under *tmp_path*; *setup* may add routes before it starts."""
    settings = AppConfig(log_file=tmp_path / "logs" / "app.log", seed=7, **config)
    app = build_app(settings, faults)
    if setup is not None:
        setup(app)
    async with TestClient(TestServer(app)) as client:
        yield Shop(client, settings.log_file)
