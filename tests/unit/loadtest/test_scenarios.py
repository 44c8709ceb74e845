"""Scenario declarations: phases add up, timelines scale, expectations name real alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.harness.load import locustfile
from loadtest.harness.rules import alert_names
from loadtest.scenarios import catalog
from loadtest.scenarios.environment import LocustSettings
from loadtest.scenarios.spec import Fault, Phase, Scenario

_RULES = Path(__file__).parents[3] / "dashboards" / "prometheus" / "alerts.yml"


def test_the_issue_scenarios_exist_with_a_locustfile_each() -> None:
    assert {"baseline", "error-spike", "latency-spike", "log-flood"} <= set(catalog.SCENARIOS)
    for scenario in catalog.SCENARIOS.values():
        path = locustfile(scenario)
        assert path.exists(), path
        text = path.read_text()
        assert "ShopUser" in text and "PhasedShape" in text


@pytest.mark.parametrize("scenario", list(catalog.SCENARIOS.values()), ids=lambda s: s.name)
def test_every_expected_alert_is_defined_in_the_rules(scenario: Scenario) -> None:
    known = set(alert_names(_RULES.read_text()))
    named = {*scenario.expect_firing, *scenario.expect_quiet, *scenario.may_fire}
    assert named <= known, named - known


def test_baseline_expects_quiet_and_error_spike_the_error_alerts() -> None:
    assert catalog.BASELINE.expect_firing == ()
    assert "AppHighErrorRatio" in catalog.ERROR_SPIKE.expect_firing
    assert "AppHighLatencyP95" in catalog.ERROR_SPIKE.expect_quiet
    assert catalog.LATENCY_SPIKE.expect_firing == ("AppHighLatencyP95",)


def test_timeline_scales_the_phases_to_the_duration() -> None:
    timeline = catalog.ERROR_SPIKE.timeline(200.0)
    assert [(t.start_s, t.end_s) for t in timeline] == [(0.0, 60.0), (60.0, 160.0), (160.0, 200.0)]
    assert catalog.ERROR_SPIKE.incident_start_s(200.0) == 60.0
    assert catalog.BASELINE.incident_start_s(60.0) is None


def test_phase_at_and_the_end_of_the_run() -> None:
    scenario = catalog.ERROR_SPIKE
    at_start = scenario.phase_at(90.0, 0.0)
    assert at_start is not None and at_start.phase.name == "warm-up"
    incident = scenario.phase_at(90.0, 27.0)
    assert incident is not None and incident.phase.incident
    assert scenario.phase_at(90.0, 90.0) is None


def test_shares_must_add_up_and_expectations_must_not_contradict() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        Scenario("bad", "x", phases=(Phase("a", 0.5),))
    with pytest.raises(ValueError, match="both"):
        Scenario("bad", "x", phases=(Phase("a", 1.0),), expect_firing=("A",), expect_quiet=("A",))


def test_fault_body_is_what_the_app_takes() -> None:
    assert Fault(error_rate=0.4).as_json() == {"error_rate": 0.4, "latency_ms": 0.0}


def test_locust_settings_round_trip_through_the_environment(tmp_path: Path) -> None:
    settings = LocustSettings("lt1", 42.0, 7, 3.5, tmp_path / "requests.log")
    assert LocustSettings.from_env(catalog.BASELINE, settings.to_env()) == settings
    defaults = LocustSettings.from_env(catalog.BASELINE, {})
    assert (defaults.duration_s, defaults.users) == (
        catalog.BASELINE.duration_s,
        catalog.BASELINE.users,
    )
