"""Child processes the harness starts: one log file each, a readiness probe, a clean stop.

The starting, tracking and stopping is :mod:`shipper.process`'s; this adds a name, the log's
tail in error messages and an HTTP readiness probe, and makes sure none outlives the harness:

* each is owned from the moment it is spawned: :func:`run_owning_children` runs a command's
  coroutine, turns SIGTERM into the same cancellation as Ctrl-C, and stops whatever the
  coroutine's own cleanup left running, whichever way it ended;
* each records itself in a pid file beside its log (``<name>.pid``), removed when it is stopped,
  so a harness killed with SIGKILL leaves a trace :func:`stop_recorded` (``make down``) follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from loadtest.errors import LoadTestError
from shipper.process import Supervised, spawn

__all__ = ["ManagedProcess", "http_ok", "run_owning_children", "stop_recorded"]

_T = TypeVar("_T")

_running: set[ManagedProcess] = set()
"""Every ManagedProcess started and not stopped yet, in this harness process."""


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

    @property
    def pid_file(self) -> Path:
        """Where it is recorded while it runs: beside its log."""
        return self.log_path.with_suffix(".pid")

    async def start(self) -> None:
        """Start it (its output appended to the log file), in a session of its own: a Ctrl-C in
        the terminal reaches the harness only; the harness stops it (see the module doc)."""
        self.process = spawn(
            self.argv, log_file=self.log_path, env=self.env, cwd=self.cwd, pid_file=self.pid_file
        )
        _running.add(self)

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
        # Shielded: a second Ctrl-C while it stops must not leave it half stopped.
        await asyncio.shield(self.process.stop_async(timeout_s))
        _running.discard(self)
        self.pid_file.unlink(missing_ok=True)
        return self.process.poll()


def run_owning_children(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(main)``, where SIGTERM cancels *main* as Ctrl-C does (so its cleanup runs)
    and every ManagedProcess still running afterwards is stopped, whichever way *main* ended."""

    async def owning() -> _T:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await task
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            for process in list(_running):
                await process.stop(timeout_s=10)

    try:
        return asyncio.run(owning())
    except asyncio.CancelledError:
        raise SystemExit(128 + signal.SIGTERM) from None


def stop_recorded(directory: Path) -> list[str]:
    """Stop every process a harness recorded under *directory* and did not stop (it was killed);
    the names of those stopped."""
    stopped = []
    for pid_file in sorted(directory.rglob("*.pid")) if directory.is_dir() else []:
        running = Supervised.from_pid_file(pid_file)
        if running is not None:
            running.stop(timeout_s=10)
            stopped.append(pid_file.stem)
        with contextlib.suppress(OSError):
            pid_file.unlink()
    return stopped
