"""`shipper stack` against the running local stack: status shows versions, a second `up` is a no-op."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from click.testing import CliRunner

from shipper.cli import cli


def test_status_shows_every_service_healthy_with_its_version(
    elasticsearch_url: str, kafka_bootstrap: str
) -> None:
    result = CliRunner().invoke(cli, ["stack", "status"])
    assert result.exit_code == 0, result.output
    for service in ("kafka", "elasticsearch", "node-exporter", "prometheus", "alertmanager"):
        row = next(line for line in result.output.splitlines() if f" {service} " in line)
        assert "running" in row


def test_the_stack_prometheus_scrapes_the_node_exporter(prometheus_url: str) -> None:
    query = urllib.parse.urlencode({"query": 'up{job="node"} == 1'})
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?{query}", timeout=10) as response:
        result = json.load(response)["data"]["result"]
    assert [series["metric"]["instance"] for series in result] == ["127.0.0.1:9100"]


def test_up_on_a_running_stack_changes_nothing(
    elasticsearch_url: str, kafka_bootstrap: str
) -> None:
    before = CliRunner().invoke(cli, ["stack", "status"]).output
    result = CliRunner().invoke(cli, ["stack", "up"])
    assert result.exit_code == 0, result.output
    assert "stack already up: nothing to do" in result.output
    assert CliRunner().invoke(cli, ["stack", "status"]).output == before
