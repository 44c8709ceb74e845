"""The scenarios about what the pipeline stands on, end to end like the others: disk-fill (a
small tmpfs the stack's node exporter watches), es-flood-stage (Elasticsearch's watermarks
lowered on the test cluster) and a short cpu-burn. About 2 minutes each (cpu-burn 1.5); the full
cpu-burn is `make scenarios`.

disk-fill mounts a filesystem: it needs root (CI runs as root) and is skipped without it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from loadtest.harness.incidents import DiskFill
from tests.integration.loadtest.test_loadtest_run import _alert, _failed_checks, _loadtest

pytestmark = pytest.mark.timeout(400)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def _fill_mounts() -> list[str]:
    return [
        line
        for line in Path("/proc/mounts").read_text().splitlines()
        if "logferry-disk-fill" in line
    ]


def _exactly_once(report: dict[str, Any]) -> None:
    requests = report["requests"]
    assert requests["locust_requests"] > 500
    assert requests["lines_found"] == requests["locust_requests"] == requests["ids_sent"]
    assert requests["missing_count"] == requests["duplicated_count"] == 0


@needs_root
def test_disk_fill_fires_the_disk_alerts_and_unmounts(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url, "--scenario", "disk-fill"
    )
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    for name in ("HostDiskSpaceLow", "HostDiskWillFillSoon"):
        seen = _alert(report, name)
        assert seen is not None and seen["firing_after_s"] is not None, name
    assert _fill_mounts() == []
    _exactly_once(report)


@needs_root
def test_disk_fill_interrupted_unmounts(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    run = subprocess.Popen(
        [
            sys.executable, "-m", "loadtest", "run", "--scenario", "disk-fill",
            "--duration", "40s", "--report", str(tmp_path / "report"),
            "--work-dir", str(tmp_path / "work"), "--kafka", kafka_bootstrap,
            "--elasticsearch", elasticsearch_url,
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _fill_mounts():
            assert run.poll() is None, "the run ended before its incident"
            assert time.monotonic() < deadline, "the tmpfs never appeared"
            time.sleep(0.2)
        run.send_signal(signal.SIGINT)  # Ctrl-C in the middle of the incident
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert _fill_mounts() == []


@needs_root
async def test_a_mount_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    left = tmp_path / "disk-fill"
    left.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "logferry-disk-fill", str(left)], check=True
    )
    assert _fill_mounts()
    await DiskFill(tmp_path, "http://unused", 1.0, print).sweep()
    assert _fill_mounts() == []
    assert not left.exists()


def test_es_flood_stage_holds_retries_and_loses_nothing(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url, "--scenario", "es-flood-stage"
    )
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    blocked = _alert(report, "ElasticsearchIndexWriteBlocked")
    assert blocked is not None and blocked["firing_after_s"] is not None
    assert _alert(report, "DeadLettersAppearing") is None
    assert "block lifted by Elasticsearch itself" in completed.stdout
    _exactly_once(report)
    # The cluster is as it was: no watermark of the scenario's left, no index blocked.
    with urllib.request.urlopen(f"{elasticsearch_url}/_cluster/settings", timeout=10) as r:
        assert json.load(r)["transient"] == {}


def test_cpu_burn_short_fires_the_cpu_alert(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    # A shorter variant for CI: 60 s, windows and waits divided by 30 instead of 15.
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url,
        "--scenario", "cpu-burn", "--duration", "60s", "--fast-factor", "30",
    )  # fmt: skip
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    seen = _alert(report, "HostCpuHigh")
    assert seen is not None and seen["firing_after_s"] is not None
    _exactly_once(report)
