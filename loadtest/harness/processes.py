"""Child processes the harness starts: one log file each, a readiness probe, a clean stop.

The starting, tracking and stopping is :mod:`shipper.process`'s; this adds a name, the log's
tail in error messages and an HTTP readiness probe.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from loadtest.errors import LoadTestError
from shipper.process import Supervised, spawn

__all__ = ["ManagedProcess", "http_ok"]


async def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when *url* answers 2xx."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(url) as response,
        ):
            return 200 <= response.status < 300
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


class ManagedProcess:
    """A child process whose output goes to *log_path*, stopped with SIGTERM (SIGKILL if stuck)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.process: Supervised | None = None

    async def start(self) -> None:
        """Start it (its output appended to the log file), in a session of its own: a Ctrl-C in
        the terminal reaches the harness only."""
        self.process = spawn(self.argv, log_file=self.log_path, env=self.env, cwd=self.cwd)

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The end of its output, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_ready(self, url: str, timeout_s: float = 60.0) -> None:
        """Wait until *url* answers 2xx; fail clearly if the process exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.returncode is not None:
                raise LoadTestError(
                    f"{self.name} exited with {self.returncode} while starting "
                    f"(log: {self.log_path}):\n{self.log_tail()}"
                )
            if await http_ok(url):
                return
            await asyncio.sleep(0.2)
        raise LoadTestError(
            f"{self.name} not ready at {url} after {timeout_s:.0f}s (log: {self.log_path}):\n"
            f"{self.log_tail()}"
        )

    async def wait(self) -> int:
        """Wait for it to exit on its own; its exit code."""
        assert self.process is not None
        code = await self.process.wait_async()
        assert code is not None  # our child: its exit code is known once it has exited
        return code

    async def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after *timeout_s* (what it left running too); the exit code
        (None if never started)."""
        if self.process is None:
            return None
        await self.process.stop_async(timeout_s)
        return self.process.poll()
