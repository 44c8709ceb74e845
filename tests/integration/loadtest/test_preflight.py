"""`loadtest run` checks what it depends on before starting anything: a missing service is
named in one line within seconds (about 4 s each: the run stops at the check)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.integration.support import free_port


def _run(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "loadtest", "run", "--scenario", "baseline",
         "--work-dir", str(tmp_path / "work"), "--report", str(tmp_path / "report"), *options],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return completed, time.monotonic() - started


def test_an_unreachable_elasticsearch_is_named_at_once(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    completed, took_s = _run(tmp_path, "--kafka", kafka_bootstrap, "--elasticsearch", url)
    assert completed.returncode == 3, completed.stdout[-2000:] + completed.stderr[-2000:]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, completed.stderr
    assert f"Elasticsearch at {url} does not answer" in errors[0]
    assert "--elasticsearch" in errors[0] and "Kafka" not in completed.stderr
    assert took_s < 20
    assert "started demo app" not in completed.stdout  # nothing was started
    assert not list((tmp_path / "work").glob("*/logs/app.log"))


def test_each_missing_dependency_gets_its_own_line(tmp_path: Path) -> None:
    kafka = f"127.0.0.1:{free_port()}"
    prometheus = f"http://127.0.0.1:{free_port()}"
    completed, took_s = _run(
        tmp_path, "--kafka", kafka, "--elasticsearch", f"http://127.0.0.1:{free_port()}",
        "--prometheus", prometheus, "--alertmanager", f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert completed.returncode == 3, completed.stderr[-2000:]
    text = completed.stderr
    assert f"Kafka at {kafka} does not answer" in text
    assert f"--prometheus: {prometheus}/-/ready does not answer" in text
    assert "Elasticsearch at" in text and "--alertmanager:" in text
    assert took_s < 20
