"""`shipper run --path` naming a file that does not exist is loud: a warning naming the glob,
`logferry_shipper_input_globs_unmatched`, and /readyz not ready (unless `require_match` is off).
About 3 s: two shippers with the console output (no Kafka)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.integration.support import free_port, wait_for
from tests.prometheus_text import sample_value


def _start(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shipper", "run", "--path", "/nonexistent/app.log",
         "--output", "console", "--state-dir", str(tmp_path / f"state-{port}"),
         "--metrics-addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **env},
    )  # fmt: skip


def _readyz(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr[-2000:]
    return stderr


def test_a_path_matching_nothing_warns_counts_and_is_not_ready(tmp_path: Path) -> None:
    port = free_port()
    process = _start(tmp_path, port)
    try:
        wait_for(lambda: _readyz(port)[0] == 503, timeout_s=20)
        checks = _readyz(port)[1]["checks"]
        assert isinstance(checks, dict) and checks["input"] is False and checks["output"] is True
        wait_for(
            lambda: sample_value(_metrics(port), "logferry_shipper_input_globs_unmatched") == 1
        )
    finally:
        stderr = _stop(process)
    warnings = [json.loads(line) for line in stderr.splitlines() if "no file matches" in line]
    assert warnings, stderr[-2000:]
    assert warnings[0]["level"].lower() == "warning"
    assert "'/nonexistent/app.log'" in warnings[0]["message"]


def test_a_sidecar_starting_before_its_app_may_be_ready_anyway(tmp_path: Path) -> None:
    port = free_port()
    process = _start(tmp_path, port, SHIPPER_INPUT_REQUIRE_MATCH="false")
    try:
        wait_for(lambda: _readyz(port)[0] == 200, timeout_s=20)
        wait_for(
            lambda: sample_value(_metrics(port), "logferry_shipper_input_globs_unmatched") == 1
        )
        assert _readyz(port)[0] == 200  # after a scan that found nothing: still ready
    finally:
        _stop(process)
