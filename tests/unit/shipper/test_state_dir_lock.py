"""Two `shipper run` processes on one state dir: the second refuses, in one line, with exit 2."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from loadtest.harness.launch import free_port


def _shipper(tmp_path: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "shipper", "run", "--path", str(tmp_path / "app.log"),
        "--output", "console", "--state-dir", str(tmp_path / "state"),
        "--metrics-addr", f"127.0.0.1:{port}",
    ]  # fmt: skip


def test_a_second_shipper_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text('{"message": "hello"}\n')
    port = free_port()
    first = subprocess.Popen(
        _shipper(tmp_path, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the first one is up (and so holds the lock)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.2)
        second = subprocess.run(
            _shipper(tmp_path, free_port()), capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert f"in use by another shipper (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.terminate()
        first.wait(30)
