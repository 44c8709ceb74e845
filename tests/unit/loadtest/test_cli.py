"""`loadtest app`: its options, its one-line errors, and a real process started and stopped."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadtest.app import AppConfig
from loadtest.cli import main
from loadtest.harness.launch import free_port

LOADTEST = Path(sys.executable).parent / "loadtest"


def test_help_lists_one_option_per_setting_with_its_env_var() -> None:
    result = CliRunner().invoke(main, ["app", "--help"])
    assert result.exit_code == 0, result.output
    for name in AppConfig.model_fields:
        assert f"--{name.replace('_', '-')}" in result.output
        assert f"LOADTEST_APP_{name.upper()}" in result.output


def test_app_is_a_loadtest_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "app" in result.output


def test_invalid_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["app", "--rotate-keep", "0", "--log-file", str(tmp_path / "a.log")]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: rotate_keep: Input should be greater than or equal to 1"
    ]


def test_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["app"], env={"LOADTEST_APP_PORT": "70000"})
    assert result.exit_code == 2
    assert "port: Input should be less than or equal to 65535" in result.output


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["app", "--port", str(port), "--log-file", str(tmp_path / "app.log")]
        )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: port: 127.0.0.1:{port} is already in use (choose another with --port)"
    ]


def _read_line(stream: object, deadline: float) -> str:
    assert hasattr(stream, "fileno") and hasattr(stream, "readline")
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            line: str = stream.readline()
            return line
    pytest.fail("no output from `loadtest app` in time")


def test_real_process_serves_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "logs" / "app.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOADTEST_")}
    process = subprocess.Popen(
        [str(LOADTEST), "app", "--port", str(port), "--log-file", str(log_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = _read_line(process.stdout, time.monotonic() + 30)
        assert line == f"listening on http://127.0.0.1:{port}, logging to {log_file}\n"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/orders/1001", headers={"X-Request-Id": "cli-1"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert response.headers["X-Request-Id"] == "cli-1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    assert process.stderr.read() == ""
    lines = [json.loads(text) for text in log_file.read_text().splitlines()]
    assert [(line["request_id"], line["status"], line["message"]) for line in lines] == [
        ("cli-1", 200, "GET /orders/1001 200")
    ]
