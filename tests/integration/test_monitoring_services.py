"""Prometheus and Alertmanager answer their status APIs."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_prometheus_answers_buildinfo_and_scrapes_itself(prometheus_url: str) -> None:
    info = _get(f"{prometheus_url}/api/v1/status/buildinfo")
    assert info["status"] == "success"
    assert info["data"]["version"]
    result = _get(f"{prometheus_url}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D")
    assert result["status"] == "success"


def test_alertmanager_answers_status_and_accepts_an_alert(alertmanager_url: str) -> None:
    status = _get(f"{alertmanager_url}/api/v2/status")
    assert status["versionInfo"]["version"]
    assert status["cluster"]["status"] in ("disabled", "ready")

    alert = [{"labels": {"alertname": "LogferryIntegrationProbe", "severity": "info"}}]
    request = urllib.request.Request(
        f"{alertmanager_url}/api/v2/alerts",
        data=json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    alerts = _get(
        f"{alertmanager_url}/api/v2/alerts?filter=alertname%3D%22LogferryIntegrationProbe%22"
    )
    assert [a["labels"]["alertname"] for a in alerts] == ["LogferryIntegrationProbe"]
