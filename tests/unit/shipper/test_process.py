"""The supervisor (shipper.process) against real processes: start, identify, stop, kill."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from shipper.process import Supervised, spawn

SLEEP = ["sleep", "60"]


@pytest.fixture
def started() -> Iterator[list[Supervised]]:
    """What a test spawns; whatever still runs at the end is killed."""
    processes: list[Supervised] = []
    yield processes
    for process in processes:
        process.stop(timeout_s=1)


def _spawn(
    started: list[Supervised], argv: list[str], tmp_path: Path, **kwargs: object
) -> Supervised:
    process = spawn(argv, log_file=tmp_path / "out.log", **kwargs)  # type: ignore[arg-type]
    started.append(process)
    return process


def _wait_until(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _dead(process: psutil.Process) -> bool:
    """Gone, or a zombie (exited; whether its new parent reaps it is not ours to test)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_pid_file_identifies_the_process_by_pid_and_creation_time(
    tmp_path: Path, started: list[Supervised]
) -> None:
    pid_file = tmp_path / "run" / "sleep.pid"
    process = _spawn(started, SLEEP, tmp_path, pid_file=pid_file)
    assert process.is_running()
    assert process.poll() is None

    pid, created, boot_id, ticks = pid_file.read_text().split()
    assert int(pid) == process.pid
    assert float(created) == psutil.Process(process.pid).create_time()
    assert boot_id == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert int(ticks) == int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])

    # Right after the start, no waiting: nothing reads the command line that exec may not show yet.
    found = Supervised.from_pid_file(pid_file)
    assert found is not None
    assert found.pid == process.pid
    assert found.signal_group is True  # it leads the process group of its own session


def test_a_reused_pid_is_not_taken_for_ours(tmp_path: Path, started: list[Supervised]) -> None:
    unrelated = _spawn(started, SLEEP, tmp_path)
    pid_file = tmp_path / "reused.pid"
    # The pid is alive, but the process recorded under it was created at another time.
    pid_file.write_text(f"{unrelated.pid}\n{unrelated.create_time - 3600}\n")
    assert Supervised.from_pid_file(pid_file) is None
    assert unrelated.is_running()


def test_a_step_of_the_wall_clock_leaves_our_process_ours(
    tmp_path: Path, started: list[Supervised]
) -> None:
    """An NTP step moves the boot time psutil counts creation times from: a service started
    before a 23 s step read as someone else's, so `stack status` said stopped and `stack down`
    left it running. The start in ticks since boot does not move."""
    pid_file = tmp_path / "run" / "sleep.pid"
    process = _spawn(started, SLEEP, tmp_path, pid_file=pid_file)
    pid, created, boot_id, ticks = pid_file.read_text().split()
    stepped = float(created) - 23.3  # what psutil reads after the step
    pid_file.write_text(f"{pid}\n{stepped!r}\n{boot_id} {ticks}\n")
    found = Supervised.from_pid_file(pid_file)
    assert found is not None and found.pid == process.pid
    # The creation time matches but the start does not: another process under a reused pid.
    pid_file.write_text(f"{pid}\n{created}\n{boot_id} {int(ticks) + 1}\n")
    assert Supervised.from_pid_file(pid_file) is None
    pid_file.write_text(f"{pid}\n{created}\nanother-boot {ticks}\n")
    assert Supervised.from_pid_file(pid_file) is None


def test_an_old_pid_only_file_counts_when_the_process_is_older_than_the_file(
    tmp_path: Path, started: list[Supervised]
) -> None:
    process = _spawn(started, SLEEP, tmp_path)
    pid_file = tmp_path / "old-style.pid"
    pid_file.write_text(f"{process.pid}\n")  # what `shipper stack up` wrote before
    found = Supervised.from_pid_file(pid_file)
    assert found is not None and found.pid == process.pid

    # A file older than the process under its pid: the pid was reused since it was written.
    os.utime(pid_file, (process.create_time - 3600, process.create_time - 3600))
    assert Supervised.from_pid_file(pid_file) is None


@pytest.mark.parametrize("content", ["", "not a pid\n", "0\n", "-1\n", "12 not-a-time\n"])
def test_a_broken_pid_file_is_no_process(tmp_path: Path, content: str) -> None:
    pid_file = tmp_path / "broken.pid"
    pid_file.write_text(content)
    assert Supervised.from_pid_file(pid_file) is None
    assert Supervised.from_pid_file(tmp_path / "missing.pid") is None


def test_a_process_that_exited_is_gone(tmp_path: Path, started: list[Supervised]) -> None:
    pid_file = tmp_path / "true.pid"
    process = _spawn(started, ["true"], tmp_path, pid_file=pid_file)
    assert process.wait(timeout_s=10) == 0
    assert not process.is_running()
    assert Supervised.from_pid_file(pid_file) is None
    process.send_signal(signal.SIGTERM)  # reaped: its pid is not ours to signal any more
    assert process.stop(timeout_s=1) is False


def test_stop_terminates(tmp_path: Path, started: list[Supervised]) -> None:
    process = _spawn(started, SLEEP, tmp_path)
    assert process.stop(timeout_s=10) is False
    assert process.poll() == -signal.SIGTERM
    assert not process.is_running()


def test_stop_kills_what_ignores_sigterm_after_the_timeout(
    tmp_path: Path, started: list[Supervised]
) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = _spawn(started, [sys.executable, "-c", stubborn], tmp_path)
    _wait_until(lambda: "ready" in (tmp_path / "out.log").read_text())
    begun = time.monotonic()
    assert process.stop(timeout_s=0.5) is True
    assert time.monotonic() - begun < 5
    assert process.poll() == -signal.SIGKILL


def test_stop_of_a_group_stops_every_member(tmp_path: Path, started: list[Supervised]) -> None:
    pid_file = tmp_path / "group.pid"
    process = _spawn(
        started, ["sh", "-c", "sleep 60 & sleep 60"], tmp_path, signal_group=True, pid_file=pid_file
    )
    _wait_until(lambda: len(process.process.children()) == 2)
    members = process.process.children()
    # As `shipper stack down` does: by the pid file, from another process's point of view.
    found = Supervised.from_pid_file(pid_file)
    assert found is not None and found.signal_group
    assert found.stop(timeout_s=10) is False
    assert all(_dead(member) for member in members)
    assert not process.is_running()


def test_without_a_group_the_process_is_asked_then_what_it_leaves_behind(
    tmp_path: Path, started: list[Supervised]
) -> None:
    # The parent exits on SIGTERM without stopping its child, which keeps running unless asked.
    parent = (
        "import subprocess, time; subprocess.Popen(['sleep', '60']); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = _spawn(started, [sys.executable, "-c", parent], tmp_path)
    _wait_until(lambda: "ready" in (tmp_path / "out.log").read_text())
    (child,) = process.process.children(recursive=True)
    assert process.stop(timeout_s=10) is False
    assert process.poll() == -signal.SIGTERM
    _wait_until(lambda: _dead(child))


def test_signals_go_to_the_process_alone_without_a_group(
    tmp_path: Path, started: list[Supervised]
) -> None:
    process = _spawn(started, ["sh", "-c", "sleep 60 & wait"], tmp_path, own_session=False)
    assert os.getpgid(process.pid) == os.getpgid(0)  # in our group: a Ctrl-C reaches it too
    _wait_until(lambda: len(process.process.children()) == 1)
    (child,) = process.process.children()
    process.send_signal(signal.SIGKILL)  # a kill -9 of the parent, as the kill -9 tests do
    assert process.wait(timeout_s=10) == -signal.SIGKILL
    assert child.is_running()
    child.kill()


def test_signal_group_needs_a_session_of_its_own(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="own_session"):
        spawn(SLEEP, log_file=tmp_path / "out.log", own_session=False, signal_group=True)


def test_wait_times_out(tmp_path: Path, started: list[Supervised]) -> None:
    process = _spawn(started, SLEEP, tmp_path)
    with pytest.raises(TimeoutError):
        process.wait(timeout_s=0.1)
    found = Supervised(psutil.Process(process.pid))  # not through our Popen
    with pytest.raises(TimeoutError):
        found.wait(timeout_s=0.1)


async def test_the_asyncio_twins(tmp_path: Path, started: list[Supervised]) -> None:
    process = _spawn(started, SLEEP, tmp_path)
    with pytest.raises(TimeoutError):
        await process.wait_async(timeout_s=0.1)
    assert await process.stop_async(timeout_s=10) is False
    assert await process.wait_async() == -signal.SIGTERM
