"""Issue 11, item 13: no process the load tester starts outlives it, on any failure path.

Each test looks for survivors the way a user would (`ps`): every process whose command line
names the test's directory (configs, logs and reports of the harness's children all live
there). About 15 s each, the demo one about 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from loadtest.harness import launch
from tests.integration.support import free_port


def _survivors(root: Path) -> list[str]:
    """`pid: command line` of each live process (not us) whose command line names *root*."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["pid"] == os.getpid() or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(str(root) in part for part in cmdline):
            found.append(f"{process.info['pid']}: {' '.join(cmdline)[:200]}")
    return found


def _gone(root: Path, timeout_s: float = 15.0) -> list[str]:
    """The survivors once they had *timeout_s* to go (a stop takes its SIGTERM grace)."""
    deadline = time.monotonic() + timeout_s
    while (left := _survivors(root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


class _Command:
    """`python -m loadtest ...` in the background, its output in a file to watch."""

    def __init__(self, tmp_path: Path, *argv: str) -> None:
        self.out = tmp_path / "loadtest.out"
        with self.out.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "loadtest", *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
            )

    def wait_for_output(self, text: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.out.read_text(errors="replace"):
            assert self.popen.poll() is None, f"exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output()}"
            time.sleep(0.1)

    def signal_and_wait(self, sig: signal.Signals, timeout_s: float = 60.0) -> int:
        self.popen.send_signal(sig)
        return self.popen.wait(timeout_s)

    def output(self) -> str:
        return self.out.read_text(errors="replace")[-4000:]


@pytest.fixture(autouse=True)
def _kill_survivors(tmp_path: Path) -> Iterator[None]:
    """A failed test must not leave its survivors running on the machine."""
    yield
    for process in psutil.process_iter(["cmdline"]):
        if any(str(tmp_path) in part for part in process.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                process.kill()


def _run(tmp_path: Path, kafka: str, elasticsearch: str) -> _Command:
    return _Command(
        tmp_path, "run", "--scenario", "baseline", "--work-dir", str(tmp_path / "work"),
        "--report", str(tmp_path / "report"), "--kafka", kafka, "--elasticsearch", elasticsearch,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sig", "moment"),
    [
        (signal.SIGTERM, "phase "),  # Locust, Prometheus, Alertmanager, app, shipper, indexer
        (signal.SIGINT, "started demo app"),  # while the indexer starts
    ],
)
def test_issue11_item13_a_signal_to_loadtest_run_leaves_no_process(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str, sig: signal.Signals, moment: str
) -> None:
    command = _run(tmp_path, kafka_bootstrap, elasticsearch_url)
    try:
        command.wait_for_output(moment)
        assert _survivors(tmp_path), "nothing was running: the test proves nothing"
        code = command.signal_and_wait(sig)
        assert code != 0, command.output()
        assert _gone(tmp_path) == [], command.output()
        assert not list((tmp_path / "work").rglob("*.pid"))
    finally:
        command.popen.kill()


def test_issue11_item13_what_a_killed_loadtest_run_left_is_stopped_by_loadtest_down(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    command = _run(tmp_path, kafka_bootstrap, elasticsearch_url)
    try:
        command.wait_for_output("started prometheus")
        command.signal_and_wait(signal.SIGKILL)  # no cleanup can run
        assert _survivors(tmp_path), "SIGKILL left nothing: the test proves nothing"
        down = subprocess.run(
            [sys.executable, "-m", "loadtest", "down", "--work-dir", str(tmp_path / "work")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert down.returncode == 0, down.stderr
        assert "prometheus" in down.stdout and "indexer" in down.stdout, down.stdout
        assert _gone(tmp_path) == []
    finally:
        command.popen.kill()


def test_issue11_item13_an_indexer_that_never_gets_ready_is_stopped(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # Elasticsearch unreachable: the indexer runs but never reports ready. The run gives up
    # (here: sooner, by a timeout, which cancels the start as Ctrl-C would).
    async def give_up_soon() -> None:
        await asyncio.wait_for(
            launch.start_indexer(
                tmp_path,
                kafka=kafka_bootstrap,
                topic=f"logferry-survivor-{free_port()}",
                elasticsearch="http://127.0.0.1:1",
            ),
            timeout=5,
        )

    with pytest.raises(TimeoutError):
        asyncio.run(give_up_soon())
    assert _gone(tmp_path, timeout_s=5) == []
    assert not (tmp_path / "indexer.pid").exists()


def test_issue11_item13_sigterm_to_the_demo_stops_its_load_test_and_down_the_rest(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    options = [
        "--state-dir", str(tmp_path / "stack"), "--kafka", kafka_bootstrap,
        "--elasticsearch", elasticsearch_url, "--app-port", str(free_port()),
        "--shipper-port", str(free_port()), "--indexer-port", str(free_port()),
    ]  # fmt: skip
    command = _Command(tmp_path, "demo", *options)
    try:
        command.wait_for_output("phase ", timeout_s=180)
        command.signal_and_wait(signal.SIGTERM)
        # The demo's app, shipper and indexer stay for exploring (pid files, `make down`);
        # its private Prometheus, Alertmanager and Locust go with it.
        demo = {
            int((tmp_path / "stack" / "run" / f"demo-{name}.pid").read_text().split()[0])
            for name in ("app", "shipper", "indexer")
        }
        deadline = time.monotonic() + 15
        while (
            left := {int(line.split(":")[0]) for line in _survivors(tmp_path)}
        ) != demo and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == demo, _survivors(tmp_path)
    finally:
        command.popen.kill()
        down = subprocess.run(
            [sys.executable, "-m", "loadtest", "demo", *options, "down"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.returncode == 0, down.stderr
    assert _gone(tmp_path) == []
