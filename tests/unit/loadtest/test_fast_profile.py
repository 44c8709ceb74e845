"""The fast profile the load tester derives from the real alert rules and Alertmanager config."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from loadtest.harness.rules import (
    alert_names,
    fast_alertmanager,
    fast_rules,
    format_duration,
    parse_duration,
)
from tests.tools import tool

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "dashboards" / "prometheus" / "alerts.yml"
ALERTMANAGER = ROOT / "dashboards" / "alertmanager" / "alertmanager.yml"


def run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"


def rules_file(*rules: dict[str, Any], **group: Any) -> str:
    return yaml.safe_dump({"groups": [{"name": "g", **group, "rules": list(rules)}]})


def only_rule(rules_yaml: str) -> dict[str, Any]:
    (group,) = yaml.safe_load(rules_yaml)["groups"]
    (rule,) = group["rules"]
    result: dict[str, Any] = rule
    return result


def fast_expr(expr: str, factor: float = 15, **options: float) -> str:
    out = fast_rules(rules_file({"record": "r", "expr": expr}), factor, **options)
    result: str = only_rule(out)["expr"]
    return result


# -- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("20s", 20),
        ("1h30m", 5400),
        ("1m30s500ms", 90.5),
        ("500ms", 0.5),
        ("1d", 86400),
        ("2w", 14 * 86400),
        ("1y", 365 * 86400),
        ("0", 0),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5m", "30m1h", "5M", "-5m", "5 m", "m"])
def test_parse_duration_rejects_what_prometheus_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (20, "20s"),
        (90, "1m30s"),
        (5400, "1h30m"),
        (0.25, "250ms"),
        (10.5, "10s500ms"),
        (8 * 86400, "1w1d"),
        (0, "0s"),
        (0.0004, "0s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.001, 1, 59.999, 61, 3601.5, 86400 * 400 + 7])
def test_format_then_parse_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [-1, float("inf"), float("nan")])
def test_format_duration_rejects_negative_and_infinite(seconds: float) -> None:
    with pytest.raises(ValueError):
        format_duration(seconds)


# -- fast_rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("rate(x_total[5m]) > 0.05", "rate(x_total[20s]) > 0.05"),
        ("rate(x_total[1h30m])", "rate(x_total[6m])"),  # compound in, compound-free out
        ("rate(x_total[ 10m ])", "rate(x_total[40s])"),
        ("increase(x_total[10m]) > 0", "increase(x_total[40s]) > 0"),
        # Never below the minimum window: 1m / 15 = 4s → 10s; 500ms → 10s too.
        ("rate(x_total[1m])", "rate(x_total[10s])"),
        ("rate(x_total[500ms])", "rate(x_total[10s])"),
        # Subqueries: both the range and the step; the default step stays default.
        ("max_over_time(rate(x_total[1m])[5m:30s])", "max_over_time(rate(x_total[10s])[20s:2s])"),
        ("max_over_time(x[5m:])", "max_over_time(x[20s:])"),
        ("max_over_time(x[5m:5s])", "max_over_time(x[20s:1s])"),  # steps stay >= 1s
        # Offsets, also negative and in upper case, without a floor.
        ("x offset 5m", "x offset 20s"),
        ("rate(x_total[5m] offset 1h)", "rate(x_total[20s] offset 4m)"),
        ("x OFFSET -1h", "x offset -4m"),
        ("x offset 1m", "x offset 4s"),
        # Strings are data, not windows; thresholds and other numbers are untouched.
        ('x{path="/a[5m]"} > 10485760', 'x{path="/a[5m]"} > 10485760'),
        (
            "histogram_quantile(0.95, rate(x_bucket[5m])) > 1",
            "histogram_quantile(0.95, rate(x_bucket[20s])) > 1",
        ),
        ("up == 0", "up == 0"),
    ],
)
def test_fast_rules_scales_windows_and_offsets(expr: str, expected: str) -> None:
    assert fast_expr(expr) == expected


def test_min_window_is_configurable() -> None:
    assert fast_expr("rate(x_total[5m])", 60, min_window_s=2) == "rate(x_total[5s])"
    assert fast_expr("rate(x_total[5m])", 60, min_window_s=30) == "rate(x_total[30s])"


def test_fast_rules_scales_waits_and_keeps_the_rest() -> None:
    rule = {
        "alert": "A",
        "expr": "sum by (service) (rate(x_total[5m])) > 5",
        "for": "2m",
        "keep_firing_for": "15m",
        "labels": {"severity": "warning", "window": "5m"},
        "annotations": {"summary": "{{ $value | humanize }} over [5m]", "runbook_url": "x#a"},
    }
    out = only_rule(fast_rules(rules_file(rule), 15))
    assert out == {
        **rule,
        "expr": "sum by (service) (rate(x_total[20s])) > 5",
        "for": "8s",
        "keep_firing_for": "1m",
    }


@pytest.mark.parametrize(
    ("before", "after"), [("5m", "20s"), ("2m", "8s"), ("1m", "4s"), ("0s", "0s"), ("1h30m", "6m")]
)
def test_for_is_divided_without_a_floor(before: str, after: str) -> None:
    out = fast_rules(rules_file({"alert": "A", "expr": "up == 0", "for": before}), 15)
    assert only_rule(out)["for"] == after


def test_group_interval_is_scaled_with_a_floor() -> None:
    out = fast_rules(rules_file({"record": "r", "expr": "up"}, interval="1m"), 15)
    assert yaml.safe_load(out)["groups"][0]["interval"] == "4s"
    out = fast_rules(rules_file({"record": "r", "expr": "up"}, interval="5s"), 15)
    assert yaml.safe_load(out)["groups"][0]["interval"] == "1s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo: bar", "needs a top-level `groups` list"),
        ("- 1\n- 2", "expected a mapping"),
        ("groups: [", "invalid YAML"),
        ("groups:\n- rules: []", "rule group without a name"),
        ("groups:\n- name: g", "has no `rules` list"),
        ("groups:\n- name: g\n  rules:\n  - alert: A", "not a rule"),
        ("groups:\n- name: g\n  rules:\n  - expr: up", "not a rule"),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 2 minutes",
            "rule 'A': for",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(x[$w])",
            "cannot scale the range",
        ),
    ],
)
def test_fast_rules_rejects_what_is_not_a_rules_file(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fast_rules(text, 15)


@pytest.mark.parametrize("factor", [0, -1, float("inf"), float("nan")])
def test_fast_rules_rejects_a_bad_factor(factor: float) -> None:
    with pytest.raises(ValueError, match="factor"):
        fast_rules(rules_file({"record": "r", "expr": "up"}), factor)


def test_the_real_rules_keep_names_thresholds_labels_and_annotations() -> None:
    source = ALERTS.read_text()
    fast = fast_rules(source, 15)
    assert alert_names(fast) == alert_names(source)
    originals = {r["alert"]: r for r in _alerts(source)}
    for rule in _alerts(fast):
        original = originals[rule["alert"]]
        assert rule["labels"] == original["labels"]
        assert rule["annotations"] == original["annotations"]
        assert parse_duration(rule["for"]) == parse_duration(original["for"]) / 15
        # Only what sits inside [...] changed: the thresholds are the same literal text.
        assert _without_windows(rule["expr"]) == _without_windows(original["expr"])
    by_name = {r["alert"]: r["expr"] for r in _alerts(fast)}
    assert "[20s]" in by_name["AppHighErrorRatio"]
    assert "[40s]" in by_name["DeadLettersAppearing"]


def test_promtool_accepts_the_fast_real_rules(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yml"
    path.write_text(fast_rules(ALERTS.read_text(), 15))
    run(tool("promtool"), "check", "rules", str(path))


def test_alert_names_of_the_real_rules() -> None:
    names = alert_names(ALERTS.read_text())
    assert names[:3] == ["AppHighErrorRatio", "AppHighLatencyP95", "AppErrorLogBurst"]
    assert len(names) == len(set(names)) == 23


def test_alert_names_skips_recording_rules() -> None:
    text = rules_file({"record": "r", "expr": "up"}, {"alert": "A", "expr": "up == 0"})
    assert alert_names(text) == ["A"]


# -- fast_alertmanager --------------------------------------------------------------------------


def test_fast_alertmanager_redirects_receivers_and_shortens_waits() -> None:
    source = yaml.safe_load(ALERTMANAGER.read_text())
    fast = yaml.safe_load(fast_alertmanager(ALERTMANAGER.read_text(), "http://127.0.0.1:5001/"))
    assert {r["name"]: r["webhook_configs"] for r in fast["receivers"]} == {
        "pager": [{"url": "http://127.0.0.1:5001/pager", "send_resolved": True}],
        "tickets": [{"url": "http://127.0.0.1:5001/tickets", "send_resolved": True}],
    }
    route = fast["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "1s",
        "2s",
        "1h",
    )
    pager, tickets = route["routes"]
    assert (pager["group_wait"], pager["group_interval"], pager["repeat_interval"]) == (
        "1s",
        "2s",
        "1h",
    )
    assert "group_wait" not in tickets  # inherits the root's
    # What the load test verifies is kept as written.
    assert fast["inhibit_rules"] == source["inhibit_rules"]
    assert route["group_by"] == source["route"]["group_by"]
    assert route["receiver"] == source["route"]["receiver"]
    assert [(r["receiver"], r["matchers"]) for r in route["routes"]] == [
        (r["receiver"], r["matchers"]) for r in source["route"]["routes"]
    ]


def test_fast_alertmanager_timings_are_parameters() -> None:
    out = fast_alertmanager(
        ALERTMANAGER.read_text(),
        "http://h:1",
        group_wait_s=0.5,
        group_interval_s=3,
        repeat_interval="90m",
    )
    route = yaml.safe_load(out)["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "500ms",
        "3s",
        "1h30m",
    )


def test_fast_alertmanager_never_lets_a_load_test_page_a_human() -> None:
    config = {
        "route": {
            "receiver": "mail",
            "routes": [{"receiver": "chat", "routes": [{"receiver": "drop", "group_wait": "5m"}]}],
        },
        "receivers": [
            {"name": "mail", "email_configs": [{"to": "oncall@example.com"}]},
            {
                "name": "chat",
                "slack_configs": [{"channel": "#alerts"}],
                "webhook_configs": [
                    {
                        "url": "https://real.example/hook",
                        "send_resolved": False,
                        "http_config": {"proxy_url": "http://proxy:3128"},
                    }
                ],
            },
            {"name": "drop"},
        ],
    }
    fast = yaml.safe_load(fast_alertmanager(yaml.safe_dump(config), "http://127.0.0.1:5001"))
    assert fast["receivers"] == [
        {
            "name": "mail",
            "webhook_configs": [{"url": "http://127.0.0.1:5001/mail", "send_resolved": True}],
        },
        {
            "name": "chat",
            "webhook_configs": [{"url": "http://127.0.0.1:5001/chat", "send_resolved": False}],
        },
        {"name": "drop"},
    ]
    assert fast["route"]["routes"][0]["routes"][0]["group_wait"] == "1s"  # nested routes too


@pytest.mark.parametrize(
    ("text", "url", "message"),
    [
        ("receivers: []", "http://h", "needs a `route`"),
        ("[1]", "http://h", "expected a mapping"),
        (
            "route: {receiver: a}\nreceivers: [{webhook_configs: []}]",
            "http://h",
            "receiver without a name",
        ),
        (
            "route: {receiver: a, routes: {x: 1}}\nreceivers: []",
            "http://h",
            "`routes` must be a list",
        ),
        ("route: {receiver: a}\nreceivers: []", "h:5001", "http"),
    ],
)
def test_fast_alertmanager_rejects_what_is_not_a_config(text: str, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fast_alertmanager(text, url)


def test_amtool_accepts_the_fast_config_and_it_routes_the_same(tmp_path: Path) -> None:
    amtool = tool("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(fast_alertmanager(ALERTMANAGER.read_text(), "http://127.0.0.1:5001"))
    run(amtool, "check-config", str(path))
    for severity, receiver in (("critical", "pager"), ("warning", "tickets")):
        run(
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={path}",
            f"--verify.receivers={receiver}",
            f"severity={severity}",
            "alertname=X",
        )


# -- helpers ------------------------------------------------------------------------------------


def _alerts(rules_yaml: str) -> list[dict[str, Any]]:
    return [
        rule
        for group in yaml.safe_load(rules_yaml)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _without_windows(expr: str) -> str:
    return re.sub(r"\[[^\]]*\]", "[]", expr)
