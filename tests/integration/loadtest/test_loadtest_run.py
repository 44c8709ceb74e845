"""`loadtest run` end to end: real demo app, shipper, indexer, Kafka, Elasticsearch, Prometheus
and Alertmanager, with Locust making the traffic. What a user checks: the exit code, the report
and the alert timings in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_RUN_TIMEOUT_S = 280  # the bound is 3 minutes a scenario; leave room for a slow machine


def _loadtest(
    tmp_path: Path, kafka: str, elasticsearch: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "report"
    completed = subprocess.run(
        [
            sys.executable, "-m", "loadtest", "run", "--report", str(report),
            "--work-dir", str(tmp_path / "work"), "--kafka", kafka,
            "--elasticsearch", elasticsearch, *args,
        ],
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    report_file = report / "report.json"
    assert report_file.exists(), f"no report; output:\n{completed.stdout}\n{completed.stderr}"
    return completed, json.loads(report_file.read_text())


def _alert(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((alert for alert in report["alerts"] if alert["name"] == name), None)


def _failed_checks(report: dict[str, Any]) -> list[str]:
    return [f"{c['name']}: {c['detail']}" for c in report["checks"] if not c["passed"]]


def test_baseline_fires_nothing_and_every_request_is_searchable(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url, "--scenario", "baseline"
    )
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    assert report["passed"] is True
    assert [a["name"] for a in report["alerts"] if a["firing_after_s"] is not None] == []
    requests = report["requests"]
    assert requests["locust_requests"] > 500  # real load, not a handful
    assert requests["lines_found"] == requests["locust_requests"] == requests["ids_sent"]
    assert requests["missing_count"] == requests["duplicated_count"] == 0
    for name in ("locust.html", "locust_stats.csv", "report.json"):
        assert (tmp_path / "report" / name).exists()


def test_error_spike_fires_the_error_alerts_and_not_the_latency_one(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url, "--scenario", "error-spike"
    )
    assert completed.returncode == 0, _failed_checks(report) or completed.stdout[-3000:]
    ratio = _alert(report, "AppHighErrorRatio")
    assert ratio is not None and ratio["firing_after_s"] is not None
    assert ratio["delivered_to"] == "pager"  # critical → the pager receiver of alertmanager.yml
    assert ratio["delivered_after_s"] >= ratio["firing_after_s"]
    latency = _alert(report, "AppHighLatencyP95")
    assert latency is None or latency["firing_after_s"] is None
    assert report["locust"]["failures"] > 0  # the incident really made requests fail
    assert report["requests"]["lines_found"] == report["locust"]["requests"]


def test_a_wrong_expectation_fails_the_run_and_is_named(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    completed, report = _loadtest(
        tmp_path, kafka_bootstrap, elasticsearch_url,
        "--scenario", "baseline", "--duration", "30s", "--expect-firing", "AppHighLatencyP95",
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout[-3000:]
    assert report["passed"] is False
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["AppHighLatencyP95 fires"]
    assert "never fired" in failed[0]["detail"]
    assert "AppHighLatencyP95 fires" in completed.stdout
    # Everything else still held: the failure is the expectation, not the run.
    assert report["requests"]["lines_found"] == report["locust"]["requests"]
