"""Start, track and stop background processes by pid file, and find the binaries they run.

A public module: the local stack (:mod:`shipper.stack`) and `loadtest`'s demo and harness use it
(the import contract in pyproject.toml says which of shipper's modules are public).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from shipper.errors import DiskFullError, PortInUseError

__all__ = [
    "alive",
    "check_free_disk",
    "check_port_free",
    "debian_binary",
    "read_pid",
    "running_pid",
    "start_process",
    "stop_process",
    "tail",
]


def debian_binary(*names: str) -> str | None:
    """The first of *names* found on PATH (Debian names some binaries differently)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in *pid_file*, or None when there is none (or it is unreadable)."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether *pid* is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The recorded pid if that process is alive and is still ours (its command line has *marker*).

    The marker guards against pid reuse: after a reboot the same number may be someone else.
    """
    pid = read_pid(pid_file)
    if pid is None or not alive(pid):
        return None
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return None
    return pid if marker in cmdline else None


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


def start_process(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start *argv* detached in its own session, output appended to *log_file*; record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # its own process group: `down` stops the whole tree
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def stop_process(pid: int, *, timeout_s: float = 30.0) -> bool:
    """SIGTERM the process group of *pid*, SIGKILL it after *timeout_s*; True if it had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            _reap(pid)
            return False
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Members may all be zombies of a parent that is gone; count only live ones.
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _reap(pid: int) -> None:
    # When `up` and `down` run in one process (tests), collect the child so it leaves no zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


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
