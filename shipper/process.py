"""Start, track and stop processes, and find the binaries they run: the one supervisor.

Every process logferry starts goes through here: the local stack (:mod:`shipper.stack`),
`loadtest`'s demo and harness, and the integration tests. A process is known by its pid *and*
its creation time (psutil's), so a pid the kernel has handed to someone else since is never
taken for ours, and nothing reads a command line (which can read empty right after exec)::

    spawn(argv, log_file=..., pid_file=...)   start it (output appended to the log file)
    Supervised.from_pid_file(path)            the recorded process, if it is still that one
    .is_running() .poll() .wait() .send_signal(sig)
    .stop(timeout_s)                          SIGTERM, SIGKILL after the timeout, reaped

``stop`` signals the whole process group of a process started with ``signal_group`` (the stack
and the demo: whatever a launcher script forked goes too); otherwise it asks the process alone,
which stops its own children, then asks the descendants it leaves behind (found with
``children(recursive=True)`` before the signal), and kills what is left at the deadline.
Each blocking call has an ``_async`` twin for the asyncio harness.

A public module (the import contract in pyproject.toml says which of shipper's modules are).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import psutil

from shipper.errors import DiskFullError, PortInUseError

__all__ = [
    "Supervised",
    "check_free_disk",
    "check_port_free",
    "debian_binary",
    "spawn",
    "tail",
]

_CREATE_TIME_SLACK_S = 1.0
"""How far a recorded creation time may be from psutil's reading of it: psutil counts from the
boot time in whole seconds, which a clock step may move. Only for pid files without a start."""
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_POLL_S = 0.1
_KILL_WAIT_S = 5.0
"""How long to wait for the kernel to remove what SIGKILL hit."""

_T = TypeVar("_T")

_Steps = Generator[float, None, bool]
"""A stop sequence: yields how long to pause before its next check, returns whether it killed."""


def debian_binary(*names: str) -> str | None:
    """The first of *names* found on PATH (Debian names some binaries differently)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def spawn(
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    own_session: bool = True,
    signal_group: bool = False,
    pid_file: Path | None = None,
) -> Supervised:
    """Start *argv*, stdin from /dev/null, stdout and stderr appended to *log_file*.

    *env* is added to ours. With *own_session* (the default) it runs in a session of its own, so
    a Ctrl-C in the terminal reaches only us; with *signal_group* too, signals and `stop` go to
    its whole process group. *pid_file* records it for `Supervised.from_pid_file`.
    """
    if signal_group and not own_session:
        raise ValueError("signal_group needs own_session: the group must be the process's own")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=own_session,
        )
    # Our child stays a zombie until we reap it, so its pid cannot be someone else's yet.
    supervised = Supervised(psutil.Process(popen.pid), popen=popen, signal_group=signal_group)
    if pid_file is not None:
        supervised.write_pid_file(pid_file)
    return supervised


class Supervised:
    """One process we started, or found by its pid file: a pid plus the time it was created."""

    def __init__(
        self,
        process: psutil.Process,
        *,
        popen: subprocess.Popen[bytes] | None = None,
        signal_group: bool = False,
    ) -> None:
        self.process = process
        """psutil's view of it (memory, CPU, children), bound to its creation time."""
        self.signal_group = signal_group
        """Whether signals and `stop` go to its whole process group (it leads its own)."""
        self._popen = popen  # when it is our child: its exit code, and reaping it

    def __repr__(self) -> str:
        return f"Supervised(pid={self.pid}, create_time={self.create_time})"

    @classmethod
    def from_pid_file(cls, pid_file: Path) -> Supervised | None:
        """The process *pid_file* records, if it is alive and still that process; else None.

        A pid file holds the pid, the creation time, and the start: the boot's id and the
        clock ticks from that boot to the process's start, which no change of the wall clock
        moves (the creation time does: it is counted from a boot time the wall clock sets; an
        NTP step of 23 s made every service of a stack look like another process). Files
        without the start compare the creation time, within a second; one from before creation
        times were recorded (the pid alone) counts when the process is older than the file: a
        pid reused since, or after a reboot, belongs to a younger process. A process that leads
        its own process group (as ``spawn(signal_group=True)`` makes it) is signalled with its
        group.
        """
        try:
            fields = pid_file.read_text().split()
            pid = int(fields[0])
            recorded = float(fields[1]) if len(fields) > 1 else None
            start = (fields[2], int(fields[3])) if len(fields) > 3 else None
            written = pid_file.stat().st_mtime
        except (OSError, ValueError, IndexError):
            return None
        if pid <= 0:
            return None
        try:
            process = psutil.Process(pid)
            if start is not None:
                ours = start == _start_of(pid)
            elif recorded is None:
                ours = process.create_time() <= written + _CREATE_TIME_SLACK_S
            else:
                ours = abs(process.create_time() - recorded) <= _CREATE_TIME_SLACK_S
        except psutil.Error:
            return None
        if not ours or not _live(process):
            return None
        try:
            leads_group = os.getpgid(pid) == pid
        except OSError:
            return None
        return cls(process, signal_group=leads_group)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def create_time(self) -> float:
        """When it was created, in seconds since the epoch (psutil's reading)."""
        return self.process.create_time()

    def write_pid_file(self, pid_file: Path) -> None:
        """Record the pid, the creation time and the start (atomically: a reader never sees
        half); see :meth:`from_pid_file`."""
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        partial = pid_file.with_name(f".{pid_file.name}.{os.getpid()}")
        start = _start_of(self.pid)
        since_boot = "" if start is None else f"{start[0]} {start[1]}\n"
        partial.write_text(f"{self.pid}\n{self.create_time!r}\n{since_boot}")
        partial.replace(pid_file)

    def poll(self) -> int | None:
        """Its exit code once it has exited (negative: the signal); None while it runs, and
        always for a process that is not our child (only the parent learns the exit code)."""
        return None if self._popen is None else self._popen.poll()

    def is_running(self) -> bool:
        """Whether it is still alive (not a zombie) and still the process we started."""
        if self._popen is not None and self._popen.poll() is not None:
            return False
        return _live(self.process)

    def send_signal(self, sig: int) -> None:
        """Send *sig* to it (its group with *signal_group*); nothing once it is gone."""
        if self.signal_group:
            # A group id stays taken while the group has a member: then it is still ours.
            if self.is_running() or _group_alive(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, sig)
        elif self.is_running():  # our child once reaped, or a process gone: its pid is free
            with contextlib.suppress(psutil.NoSuchProcess):
                self.process.send_signal(sig)  # psutil checks again that the pid is still it

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Wait until it exits; its exit code (see `poll`). TimeoutError after *timeout_s*."""
        if self._popen is not None:
            try:
                return self._popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"pid {self.pid} still runs after {timeout_s}s") from None
        return _run(self._waiting(timeout_s))

    async def wait_async(self, timeout_s: float | None = None) -> int | None:
        """`wait` for asyncio: checks every 0.1 s, and can be cancelled."""
        return await _run_async(self._waiting(timeout_s))

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM, SIGKILL what still runs after *timeout_s*, reap; True if it had to kill."""
        return _run(self._stopping(timeout_s))

    async def stop_async(self, timeout_s: float = 30.0) -> bool:
        """`stop` for asyncio."""
        return await _run_async(self._stopping(timeout_s))

    def _waiting(self, timeout_s: float | None) -> Generator[float, None, int | None]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.is_running():
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"pid {self.pid} still runs after {timeout_s}s")
            yield _POLL_S
        return self.poll()

    def _stopping(self, timeout_s: float) -> _Steps:
        family = self._family()
        self.send_signal(signal.SIGTERM)
        left_behind_asked = False
        deadline = time.monotonic() + timeout_s
        while not self._gone(family):
            if time.monotonic() >= deadline:
                yield from self._killing(family + self._family())
                return True
            if family and not left_behind_asked and not self.is_running():
                _signal_each(family, signal.SIGTERM)  # what it did not stop itself
                left_behind_asked = True
            yield _POLL_S
        return False

    def _killing(self, family: list[psutil.Process]) -> Generator[float, None, None]:
        self.send_signal(signal.SIGKILL)
        _signal_each(family, signal.SIGKILL)
        deadline = time.monotonic() + _KILL_WAIT_S
        while not self._gone(family) and time.monotonic() < deadline:
            yield _POLL_S

    def _family(self) -> list[psutil.Process]:
        """Its descendants now (none needed when signals go to the whole group)."""
        if self.signal_group or not self.is_running():
            return []
        try:
            return self.process.children(recursive=True)
        except psutil.Error:
            return []

    def _gone(self, family: list[psutil.Process]) -> bool:
        if self.is_running():
            return False
        if self._popen is None and self.process.is_running():  # a zombie, and still it
            # Found by pid file, yet our child (`up` and `down` in one process): reap it.
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(self.pid, os.WNOHANG)
        if self.signal_group:
            return not _group_alive(self.pid)
        return not any(_live(member) for member in family)


def _live(process: psutil.Process) -> bool:
    """Whether *process* is still that process (same pid and creation time) and not a zombie."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess too
        return False
    except psutil.AccessDenied:
        return True


def _signal_each(processes: list[psutil.Process], sig: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            process.send_signal(sig)


def _group_alive(pgid: int) -> bool:
    """Whether the process group *pgid* has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Members may all be zombies of a parent that is gone; count only live ones.
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def _run(steps: Generator[float, None, _T]) -> _T:
    """Drive *steps*, sleeping for each pause it asks for; its result."""
    while True:
        try:
            pause = next(steps)
        except StopIteration as done:
            result: _T = done.value
            return result
        time.sleep(pause)


async def _run_async(steps: Generator[float, None, _T]) -> _T:
    """Drive *steps* on the event loop."""
    while True:
        try:
            pause = next(steps)
        except StopIteration as done:
            result: _T = done.value
            return result
        await asyncio.sleep(pause)


def check_port_free(host: str, port: int, service: str, setting: str) -> None:
    """Raise PortInUseError naming the service and the setting to change when *port* is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                f"{service}: port {host}:{port} is already in use by another process. "
                f"Fix: stop that process (ss -ltnp 'sport = :{port}' shows it), "
                f"or choose another port with --{setting.replace('_', '-')} "
                f"(env LOGFERRY_STACK_{setting.upper()})."
            ) from exc


def check_free_disk(path: Path, min_free_mb: int) -> None:
    """Raise DiskFullError when the filesystem holding *path* has less than *min_free_mb* free."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free // (1024 * 1024)
    if free_mb < min_free_mb:
        raise DiskFullError(
            f"only {free_mb} MiB free on the disk holding {path} (need {min_free_mb} MiB). "
            f"Fix: free some space, or run `shipper stack down --purge` to drop old stack data, "
            f"or point --state-dir / --cache-dir at a larger disk."
        )


def tail(path: Path, lines: int = 30) -> str:
    """The last *lines* lines of *path* (empty when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _start_of(pid: int) -> tuple[str, int] | None:
    """(this boot's id, clock ticks from the boot to *pid*'s start): who a pid is, whatever the
    wall clock does. None where /proc does not say."""
    try:
        boot_id = _BOOT_ID.read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 22, counted after the command name (which may hold spaces and parentheses).
        return boot_id, int(stat.rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None
