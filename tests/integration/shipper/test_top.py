"""`shipper top` in a real terminal (tmux) against a real shipper: it finds the shipper, shows
it shipping, refreshes, and quits on q or Ctrl-C leaving the terminal as it was."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.support import LogWriter, ShipperProcess


class _Terminal:
    """One tmux window on a private tmux server, running a shell command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        # The terminal's own size, as a user's shell has it: not the COLUMNS pytest exports.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, env=env
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "top")

    def wait_for(self, predicate: Callable[[str], bool], timeout_s: float = 20.0) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"not on the screen after {timeout_s:.0f} s:\n{screen}")
            time.sleep(0.2)


@contextmanager
def _terminal(tmp_path: Path, command: str) -> Iterator[_Terminal]:
    """*command* in a 150x30 terminal; after it, the shell prints its exit status, whether the
    terminal's settings are the ones it had before, and "end of checks" (wait for that: the
    screen may be read between the first two lines)."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (scripts/bootstrap.sh installs it)")
    # `trap : INT`: Ctrl-C reaches the whole foreground group; like an interactive shell, this
    # one survives it (the command gets the default SIGINT, a trap is not inherited).
    script = (
        f"trap : INT; stty -g > {tmp_path}/before; {command}; echo exit status $?; "
        f"stty -g | cmp -s - {tmp_path}/before && echo terminal restored; echo end of checks;"
        " sleep 600"
    )
    terminal = _Terminal(f"logferry-top-{uuid.uuid4().hex[:8]}")
    terminal.tmux(
        "-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", "150", "-y", "30",
        "-c", str(tmp_path), "sh", "-c", script,
    )  # fmt: skip
    socket = Path(terminal.tmux("display-message", "-p", "#{socket_path}").strip())
    try:
        yield terminal
    finally:
        subprocess.run(["tmux", "-L", terminal.socket, "kill-server"], capture_output=True)
        socket.unlink(missing_ok=True)  # the server leaves it behind


def _row(screen: str, address: str) -> list[str]:
    """The cells of the table row of *address*."""
    line = next((line for line in screen.splitlines() if address in line), None)
    assert line is not None, f"no row for {address}:\n{screen}"
    return [cell.strip() for cell in line.split("│")[1:-1]]


def _shipping(screen: str, address: str) -> bool:
    if address not in screen:
        return False
    kind, _, status, in_per_s, *_ = _row(screen, address)
    return kind == "shipper" and status == "up" and in_per_s not in ("-", "0")


@pytest.fixture
def shipping(logs_dir: Path, shipper_factory: Callable[..., ShipperProcess]) -> Iterator[str]:
    """A shipper tailing a file that grows 200 lines a second; its metrics HOST:PORT."""
    writer = LogWriter(logs_dir / "app.log", rate_per_s=200)
    writer.start()
    shipper = shipper_factory()
    shipper.start()
    try:
        yield f"127.0.0.1:{shipper.metrics_port}"
    finally:
        writer.stop()


def test_top_finds_the_running_shipper_shows_it_shipping_and_quits_on_q(
    tmp_path: Path, shipping: str
) -> None:
    top = f"{shlex.quote(sys.executable)} -m shipper top"  # no address: it finds the shipper
    with _terminal(tmp_path, top) as terminal:
        screen = terminal.wait_for(lambda s: _shipping(s, shipping))
        assert "q or Ctrl-C quits" in screen
        _, _, _, _, _, lag, open_files, errors, dead_letters = _row(screen, shipping)
        assert (open_files, errors, dead_letters) == ("1", "0", "-")
        assert lag.endswith("B")
        # Refreshed every second: the numbers move while the file grows.
        terminal.wait_for(
            lambda s: _shipping(s, shipping) and _row(s, shipping) != _row(screen, shipping)
        )
        terminal.tmux("send-keys", "-t", "top", "q")
        after = terminal.wait_for(lambda s: "end of checks" in s, timeout_s=10)
    assert "exit status 0" in after
    assert "terminal restored" in after
    assert shipping not in after  # the full-screen view is gone with it


def test_top_quits_on_ctrl_c_and_restores_the_terminal(tmp_path: Path, shipping: str) -> None:
    top = f"{shlex.quote(sys.executable)} -m shipper top {shipping} --interval 0.5"
    with _terminal(tmp_path, top) as terminal:
        terminal.wait_for(lambda s: _shipping(s, shipping))
        terminal.tmux("send-keys", "-t", "top", "C-c")
        after = terminal.wait_for(lambda s: "end of checks" in s, timeout_s=10)
    assert "exit status 0" in after
    assert "terminal restored" in after
    assert "Traceback" not in after and "aborted" not in after
