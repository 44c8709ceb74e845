"""The loop of `shipper top`: scrape every target, redraw, stop on ``q`` or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator, Sequence

import aiohttp
from rich.console import Console
from rich.live import Live

from shipper.top.discover import discover
from shipper.top.sample import Row, Snapshot, row_of, snapshot_of
from shipper.top.view import table_of

__all__ = ["Scraper", "run_once", "run_top"]

_SCRAPE_TIMEOUT_S = 2.0
_REDISCOVER_S = 5.0  # shippers started after `top` show up within this


class Scraper:
    """Scrapes a fixed list of targets, or the discovered ones, keeping the last snapshots."""

    def __init__(self, targets: Sequence[str], find: Callable[[], list[str]] = discover) -> None:
        self.fixed = list(targets)
        self.find = find
        self.targets = list(targets)
        self.found_at = -_REDISCOVER_S
        self.last: dict[str, Snapshot] = {}

    async def rows(self, http: aiohttp.ClientSession) -> list[Row]:
        """Scrape every target once; each one's row (rates since its previous scrape)."""
        if not self.fixed and time.monotonic() - self.found_at >= _REDISCOVER_S:
            self.targets, self.found_at = self.find(), time.monotonic()
        snapshots = await asyncio.gather(*(_scrape(http, t) for t in self.targets))
        # A discovered port that serves no logferry metrics is some other listener: not shown.
        if not self.fixed:
            snapshots = [s for s in snapshots if s.error is not None or s.kind != "?"]
        rows = [row_of(s, self.last.get(s.address)) for s in snapshots]
        self.last = {s.address: s for s in snapshots}
        return sorted(rows, key=lambda row: (row.kind, row.address))


async def _scrape(http: aiohttp.ClientSession, address: str) -> Snapshot:
    url = address if "://" in address else f"http://{address}"
    try:
        async with http.get(f"{url.rstrip('/')}/metrics") as response:
            response.raise_for_status()
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Snapshot(address, time.monotonic(), error=str(exc) or type(exc).__name__)
    try:
        return snapshot_of(address, time.monotonic(), text)
    except ValueError as exc:  # not Prometheus's text format
        return Snapshot(address, time.monotonic(), error=f"not metrics: {exc}")


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_SCRAPE_TIMEOUT_S))


async def run_once(scraper: Scraper, interval_s: float, console: Console) -> None:
    """Print one table: two scrapes *interval_s* apart, so the rates are known."""
    async with _session() as http:
        await scraper.rows(http)
        await asyncio.sleep(interval_s)
        console.print(table_of(await scraper.rows(http), interval_s=interval_s, live=False))


async def run_top(scraper: Scraper, interval_s: float, console: Console) -> None:
    """Redraw every *interval_s* until ``q`` is typed or Ctrl-C (SIGINT/SIGTERM) comes."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        with _keys(loop, stop), Live(console=console, screen=True, auto_refresh=False) as live:
            async with _session() as http:
                while not stop.is_set():
                    rows = await scraper.rows(http)
                    live.update(table_of(rows, interval_s=interval_s, live=True), refresh=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def _keys(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    """Read single keys from a terminal (``q`` sets *stop*); its settings are restored after."""
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    def read() -> None:
        if os.read(fd, 32).lower().startswith(b"q"):
            stop.set()

    tty.setcbreak(fd)  # no echo, no line buffering; Ctrl-C still sends SIGINT
    loop.add_reader(fd, read)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
