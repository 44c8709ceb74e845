"""Scenario incidents: each named one exists, and the host scenarios scrape the node exporter."""

from __future__ import annotations

from loadtest.harness.incidents import INCIDENTS
from loadtest.harness.rules import alert_names
from loadtest.scenarios import catalog
from shipper.resources import ALERT_RULES


def test_every_scenario_incident_is_one_the_harness_knows() -> None:
    named = {s.incident for s in catalog.SCENARIOS.values() if s.incident is not None}
    assert named == set(INCIDENTS) == {"disk-fill", "cpu-burn", "es-flood-stage"}


def test_scenarios_about_the_host_watch_it_and_expect_its_alerts() -> None:
    alerts = set(alert_names(ALERT_RULES.read_text()))
    for scenario in catalog.SCENARIOS.values():
        host_alerts = {a for a in scenario.expect_firing if a.startswith("Host")}
        assert scenario.watches_host == bool(host_alerts), scenario.name
        assert set(scenario.expect_firing) <= alerts, scenario.name
    assert catalog.ES_FLOOD_STAGE.expect_firing == (
        "ElasticsearchIndexWriteBlocked",
        "ElasticsearchDiskHighWatermark",
    )
    assert "DeadLettersAppearing" in catalog.ES_FLOOD_STAGE.expect_quiet
