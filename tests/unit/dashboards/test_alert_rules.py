"""The alert rules, their promtool unit tests, the scrape and Alertmanager configs, the runbooks.

promtool and amtool come from Debian's prometheus / prometheus-alertmanager packages. Where one
is missing the checks that need it skip, except on CI (``CI=true``), where a skipped check
would pass unnoticed: there they fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from pipelines.levels import KNOWN_LEVELS
from pipelines.metrics import status_class
from shipper.indexer.metrics import IndexerMetrics
from shipper.indexer.retry import retry_reason
from shipper.memory import PROCESS_REGISTRY
from shipper.metrics import ShipperMetrics
from shipper.sinks import KafkaSinkConfig, build_sink
from tests.tools import tool

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "dashboards" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTMANAGER = ROOT / "dashboards" / "alertmanager" / "alertmanager.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

# name → (group, severity, scope): other code (the load test scenarios) uses these names.
EXPECTED_ALERTS = {
    "AppHighErrorRatio": ("logferry-application", "critical", "application"),
    "AppHighLatencyP95": ("logferry-application", "warning", "application"),
    "AppErrorLogBurst": ("logferry-application", "warning", "application"),
    "ShipperDown": ("logferry-pipeline", "critical", "pipeline"),
    "IndexerDown": ("logferry-pipeline", "critical", "pipeline"),
    "ShipperFallingBehind": ("logferry-pipeline", "warning", "pipeline"),
    "ShipperPublishErrors": ("logferry-pipeline", "warning", "pipeline"),
    "ShipperCheckpointFailing": ("logferry-pipeline", "warning", "pipeline"),
    "IndexerLagHigh": ("logferry-pipeline", "warning", "pipeline"),
    "IndexerBulkRejections": ("logferry-pipeline", "warning", "pipeline"),
    "DeadLettersAppearing": ("logferry-pipeline", "warning", "pipeline"),
    "KafkaUnreachable": ("logferry-pipeline", "critical", "pipeline"),
    "ElasticsearchUnreachable": ("logferry-pipeline", "critical", "pipeline"),
    "HostCpuHigh": ("logferry-host", "warning", "host"),
    "HostMemoryHigh": ("logferry-host", "warning", "host"),
    "HostMemoryCritical": ("logferry-host", "critical", "host"),
    "HostDiskSpaceLow": ("logferry-host", "critical", "host"),
    "HostDiskWillFillSoon": ("logferry-host", "warning", "host"),
    "LogferryMemoryNearLimit": ("logferry-host", "warning", "pipeline"),
    "ElasticsearchNotGreen": ("logferry-elasticsearch", "warning", "pipeline"),
    "ElasticsearchRed": ("logferry-elasticsearch", "critical", "pipeline"),
    "ElasticsearchDiskHighWatermark": ("logferry-elasticsearch", "warning", "pipeline"),
    "ElasticsearchIndexWriteBlocked": ("logferry-elasticsearch", "critical", "pipeline"),
}

# The node exporter's series the host rules read (name → label names). Not our code, so listed
# here; tests/integration/dashboards/test_promql.py runs the rules against a real node exporter,
# which proves the names and labels.
NODE_EXPORTER_SERIES = {
    "node_cpu_seconds_total": frozenset({"cpu", "mode"}),
    "node_memory_MemAvailable_bytes": frozenset(),
    "node_memory_MemTotal_bytes": frozenset(),
    **{
        f"node_filesystem_{name}": frozenset({"device", "fstype", "mountpoint"})
        for name in ("avail_bytes", "size_bytes", "readonly")
    },
}

# Labels Prometheus adds to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "start", "end"}
)


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a tool; a failure shows its whole output in the assertion message."""
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    return result


def alert_rules() -> list[tuple[str, dict[str, Any]]]:
    """(group name, rule) of every alerting rule of alerts.yml."""
    document = yaml.safe_load(ALERTS.read_text())
    return [
        (group["name"], rule)
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def exprs() -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for _, rule in alert_rules()}


# -- the Prometheus tools -----------------------------------------------------------------------


def test_promtool_check_rules() -> None:
    run(tool("promtool"), "check", "rules", str(ALERTS))


def test_promtool_rule_unit_tests() -> None:
    tests = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests, "no promtool rule tests in dashboards/prometheus/tests/"
    run(tool("promtool"), "test", "rules", *map(str, tests))


def test_promtool_check_config(tmp_path: Path) -> None:
    # The config names alerts.yml relative to itself, as Compose mounts the folder.
    for path in (PROMETHEUS_DIR / "prometheus.yml", ALERTS):
        shutil.copy(path, tmp_path / path.name)
    result = run(tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml"))
    assert "1 rule files found" in result.stdout


def test_prometheus_config_loads_the_rules_and_scrapes_both_jobs() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets["shipper"] == ["shipper:9108"]
    assert targets["indexer"] == ["indexer:9109"]


def test_amtool_check_config() -> None:
    run(tool("amtool"), "check-config", str(ALERTMANAGER))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("severity=critical", "alertname=AppHighErrorRatio", "service=checkout"), "pager"),
        (("severity=critical", "alertname=ShipperDown"), "pager"),
        (("severity=warning", "alertname=AppHighLatencyP95", "service=checkout"), "tickets"),
        (("alertname=SomethingWithoutSeverity",), "tickets"),
    ],
)
def test_alertmanager_routes_by_severity(labels: tuple[str, ...], receiver: str) -> None:
    run(
        tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER}",
        f"--verify.receivers={receiver}",
        *labels,
    )


def test_alertmanager_groups_inhibits_and_resolves() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert config["route"]["group_by"] == ["alertname", "service"]
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["scope", "service"],
        }
    ]
    hooks = {r["name"]: r["webhook_configs"] for r in config["receivers"]}
    assert hooks == {
        "pager": [{"url": "http://alert-webhook:5001/pager", "send_resolved": True}],
        "tickets": [{"url": "http://alert-webhook:5001/tickets", "send_resolved": True}],
    }


# -- the rules themselves -----------------------------------------------------------------------


def test_every_expected_alert_exists_in_its_group_with_its_labels() -> None:
    found = {
        rule["alert"]: (group, rule["labels"].get("severity"), rule["labels"].get("scope"))
        for group, rule in alert_rules()
    }
    assert found == EXPECTED_ALERTS


@pytest.mark.parametrize(
    "rule", [pytest.param(rule, id=rule["alert"]) for _, rule in alert_rules()]
)
def test_alert_is_documented(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in ("critical", "warning")
    assert rule["labels"]["scope"] in ("application", "pipeline", "host")
    annotations = rule["annotations"]
    assert set(annotations) >= {"summary", "description", "runbook_url"}
    assert "{{" in annotations["description"], "the description should say which series and value"
    page, _, anchor = annotations["runbook_url"].partition("#")
    assert page == "docs/runbooks.md"
    assert anchor in runbook_anchors(), f"docs/runbooks.md has no section #{anchor}"
    assert anchor == slug(rule["alert"]), "one section per alert, titled with its name"


@pytest.mark.parametrize(("name", "expr"), sorted(exprs().items()))
def test_threshold_is_a_literal_number(name: str, expr: str) -> None:
    # The load tester's fast profile scales windows only; thresholds stay comparable as written.
    assert re.search(r"(?:>|<|==|!=)=?\s*\d+(?:\.\d+)?\s*$", expr.strip()), expr


def test_every_metric_and_label_in_the_exprs_exists_in_the_code() -> None:
    known = emitted_series()
    for name, expr in exprs().items():
        series = metric_selectors(expr)
        assert series, f"{name}: no metric found in {expr!r}"
        for metric, matcher_labels in series:
            assert metric in known, f"{name}: {metric} is not a metric the code exports"
            unknown = matcher_labels - known[metric] - TARGET_LABELS
            assert not unknown, f"{name}: {metric} has no label(s) {sorted(unknown)}"
        available = set().union(*(known[m] for m, _ in series)) | TARGET_LABELS
        grouping = grouping_labels(expr)
        assert grouping <= available, f"{name}: grouping by unknown labels {grouping - available}"


def test_label_values_are_the_ones_the_code_writes() -> None:
    by_name = exprs()
    assert f'status_class="{status_class(503)}"' in by_name["AppHighErrorRatio"]
    assert f'reason="{retry_reason(429)}"' in by_name["IndexerBulkRejections"]
    (levels,) = re.findall(r'level=~"([^"]*)"', by_name["AppErrorLogBurst"])
    assert {"error", "critical"} <= set(levels.split("|")) <= KNOWN_LEVELS
    (output,) = re.findall(r'output=~"([^"]*)"', by_name["KafkaUnreachable"])
    kafka = build_sink("kafka://kafka:9092/app-logs", KafkaSinkConfig())
    assert re.fullmatch(output, kafka.name)
    assert not re.fullmatch(output, build_sink("file:///tmp/out.ndjson", KafkaSinkConfig()).name)


# -- helpers ------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {
        slug(line.lstrip("#"))
        for line in RUNBOOKS.read_text().splitlines()
        if re.match(r"#{1,6} ", line)
    }


def emitted_series() -> dict[str, frozenset[str]]:
    """Every series name the shipper and the indexer export → its label names, plus `up`, the
    process series they both serve and the node exporter's that the rules read."""
    series: dict[str, frozenset[str]] = {"up": frozenset(), **NODE_EXPORTER_SERIES}
    for family in PROCESS_REGISTRY.collect():
        for sample in family.samples:
            series[sample.name] = frozenset(sample.labels)
    for metrics in (ShipperMetrics(), IndexerMetrics()):
        registry: CollectorRegistry = metrics.registry
        # A labelled metric has no sample until a child exists: make one per metric. The label
        # names are only reachable through the wrapper's private attribute.
        for wrapper in vars(metrics).values():
            if isinstance(wrapper, MetricWrapperBase):
                names: tuple[str, ...] = wrapper._labelnames
                if names:
                    wrapper.labels(*["x"] * len(names))
        for family in registry.collect():
            for sample in family.samples:
                series[sample.name] = frozenset(sample.labels)
    return series


def metric_selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names in its matchers) of every selector of a PromQL expr."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings cannot hide a metric name
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    found = []
    for match in re.finditer(
        r"(?<![\w.:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?", text, flags=re.ASCII
    ):
        name, matchers, call = match.groups()
        if call or name.lower() in PROMQL_KEYWORDS:
            continue  # a function, or an operator
        labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers or ""))
        found.append((name, labels))
    return found


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for listed in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in listed.split(",") if label.strip()}
    return labels
