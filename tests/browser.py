"""A page opened in a real browser: Debian's headless Chromium, driven over the DevTools protocol
(aiohttp's websocket client, no browser-automation package).

:func:`open_page` loads a URL, waits until a script says the page is ready, and returns what the
script then returns, every console error and uncaught exception, and a full-page screenshot.
Without Chromium the test is skipped on a laptop and fails under CI=true (scripts/bootstrap.sh
installs it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

__all__ = ["PageVisit", "open_page"]

# A closed network: without these, Chromium keeps trying to reach Google's hosts and logs it.
_FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, as CI runs
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


@dataclass
class PageVisit:
    """What a page did when it was opened."""

    value: Any
    errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (scripts/bootstrap.sh installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


async def open_page(
    url: str, ready: str, *, width: int = 1200, height: int = 900, timeout_s: float = 30.0
) -> PageVisit:
    """Open *url*; once the JavaScript expression *ready* is truthy, its value (JSON-able)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        process = subprocess.Popen(
            [_chromium(), *_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        try:
            port = await _devtools_port(Path(profile), process, timeout_s)
            return await asyncio.wait_for(_visit(port, url, ready), timeout_s)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _devtools_port(profile: Path, process: subprocess.Popen[bytes], timeout_s: float) -> int:
    """Chromium writes the port it chose into the profile once it listens."""
    deadline = time.monotonic() + timeout_s
    active = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"chromium exited with {process.returncode} while starting")
        lines = active.read_text().splitlines() if active.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"chromium did not open its DevTools port within {timeout_s:.0f} s")


async def _visit(port: int, url: str, ready: str) -> PageVisit:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t["type"] == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            return await _Session(ws).visit(url, ready)


class _Session:
    """One DevTools connection: commands by id, events collected while waiting."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.loaded = False

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.ws.receive()).data)
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry']['source']}: {params['entry']['text']}")

    async def visit(self, url: str, ready: str) -> PageVisit:
        for domain in ("Page", "Runtime", "Log"):
            await self.call(f"{domain}.enable")
        await self.call("Page.navigate", url=url)
        while True:
            result = await self.call(
                "Runtime.evaluate",
                expression=f"document.readyState === 'complete' && ({ready})",
                returnByValue=True,
            )
            if "exceptionDetails" in result:
                raise AssertionError(f"{ready}: {result['exceptionDetails']}")
            value = result["result"].get("value")
            if value:
                break
            await asyncio.sleep(0.2)
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return PageVisit(value, self.errors, base64.b64decode(shot["data"]))
