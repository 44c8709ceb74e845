"""The Grafana dashboards and their provisioning files, checked without Grafana.

What a broken dashboard looks like in Grafana is an empty panel with a tiny warning sign, found
by whoever needs it during an incident; these checks find the usual causes first: a data source
that is not the provisioned one, a variable that is not defined, a metric or label the code does
not export, rate() over a gauge, a quantile without ``le``, a threshold line that no longer
matches its alert. tests/integration/dashboards/test_promql.py runs every expr against a real
Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.dashboards.test_alert_rules import (
    ROOT,
    TARGET_LABELS,
    emitted_series,
    exprs,
    grouping_labels,
    metric_selectors,
)

GRAFANA_DIR = ROOT / "dashboards" / "grafana"
DASHBOARD_DIR = GRAFANA_DIR / "dashboards"
PROVISIONING_DIR = GRAFANA_DIR / "provisioning"
DATASOURCES = PROVISIONING_DIR / "datasources" / "prometheus.yml"
PROVIDERS = PROVISIONING_DIR / "dashboards" / "logferry.yml"
PROMETHEUS_CONFIG = ROOT / "dashboards" / "prometheus" / "prometheus.yml"

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
EXPECTED_DASHBOARDS = {"logferry-pipeline", "logferry-application"}
SCHEMA_VERSION = 39  # Grafana 11, the image docker-compose.elk.yml runs

# $name, ${name}, ${name:format} and the deprecated [[name]].
VARIABLE_USE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# Every metric family must be filtered by the variable of its dashboard: a panel that ignores the
# selection shows numbers the reader thinks are filtered.
REQUIRED_MATCHERS = {
    "logferry_shipper_": 'instance=~"$shipper_instance"',
    "logferry_indexer_": 'instance=~"$indexer_instance"',
    "app_": 'service=~"$service"',
}
# rate() and friends are only meaningful over counters (histogram parts are counters too).
COUNTER_SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def load_dashboards() -> dict[Path, dict[str, Any]]:
    """Every dashboard JSON file → its model."""
    return {
        path: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def query_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The panels that query something: all but rows (including those nested in collapsed rows)."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_targets() -> list[tuple[str, str, str, str]]:
    """(dashboard uid, panel title, refId, expr) of every query of every dashboard."""
    return [
        (dashboard["uid"], panel["title"], target["refId"], target["expr"])
        for dashboard in load_dashboards().values()
        for panel in query_panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_query(variable: dict[str, Any]) -> str:
    """A query variable's query, in either of the forms Grafana saves."""
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def variables_used(text: str) -> set[str]:
    """Names of the variables *text* refers to, Grafana's built-ins ($__…) left out."""
    names = {
        next(group for group in match.groups() if group) for match in VARIABLE_USE.finditer(text)
    }
    return {name for name in names if not name.startswith("__")}


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: not a YAML mapping"
    return document


PARAMS = [
    pytest.param(uid, title, expr, id=f"{uid}/{title}/{ref}")
    for uid, title, ref, expr in dashboard_targets()
]


# -- the dashboard files ------------------------------------------------------------------------


def test_the_expected_dashboards_exist_with_unique_uids() -> None:
    dashboards = load_dashboards()
    uids = [dashboard["uid"] for dashboard in dashboards.values()]
    assert sorted(uids) == sorted(EXPECTED_DASHBOARDS)
    assert len(set(uids)) == len(uids)
    titles = [dashboard["title"] for dashboard in dashboards.values()]
    assert len(set(titles)) == len(titles), (
        "Grafana refuses two dashboards of one title in a folder"
    )
    for path, dashboard in dashboards.items():
        # Links and bookmarks use the uid; naming the file after it keeps it findable.
        assert path.stem == dashboard["uid"]
        assert len(dashboard["uid"]) <= 40, "Grafana's limit on uids"
        assert dashboard["schemaVersion"] == SCHEMA_VERSION
        assert "id" not in dashboard or dashboard["id"] is None, "an id clashes between Grafanas"
        assert dashboard.get("description")
        assert "__inputs" not in dashboard, "provisioned dashboards are not imported: no ${DS}"


@pytest.mark.parametrize("path", sorted(DASHBOARD_DIR.glob("*.json")), ids=lambda p: p.name)
def test_panels_have_unique_ids_and_fit_the_grid(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    cells: dict[tuple[int, int], int] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                other = cells.setdefault((x, y), panel["id"])
                assert other == panel["id"], f"{panel['title']!r} overlaps panel {other}"


@pytest.mark.parametrize("path", sorted(DASHBOARD_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_panel_queries_the_provisioned_prometheus(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    panels = list(query_panels(dashboard))
    assert panels
    for panel in panels:
        title = panel["title"]
        assert panel.get("datasource") == DATASOURCE, title
        assert panel.get("description"), f"{title}: say what the panel shows"
        targets = panel.get("targets", [])
        assert targets, f"{title}: no query"
        ref_ids = [target["refId"] for target in targets]
        assert len(set(ref_ids)) == len(ref_ids), title
        for target in targets:
            assert target.get("datasource", DATASOURCE) == DATASOURCE, title
            assert isinstance(target.get("expr"), str) and target["expr"].strip(), title
            assert not target.get("hide"), f"{title}: a hidden query is dead weight"


@pytest.mark.parametrize("path", sorted(DASHBOARD_DIR.glob("*.json")), ids=lambda p: p.name)
def test_template_variables_are_defined_where_used_and_used_where_defined(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    used: set[str] = set()
    for panel in query_panels(dashboard):
        for target in panel["targets"]:
            for text in (target["expr"], target.get("legendFormat", "")):
                # {{label}} in a legend is Prometheus's label, not a variable.
                used |= variables_used(text)
        used |= variables_used(panel["title"])
    for variable in variables.values():
        used |= variables_used(variable_query(variable))
    assert used <= variables.keys(), f"undefined: {sorted(used - variables.keys())}"
    assert variables.keys() <= used, f"never used: {sorted(variables.keys() - used)}"
    for name, variable in variables.items():
        assert variable["type"] == "query", name
        assert variable["datasource"] == DATASOURCE, name
        assert re.fullmatch(r"label_values\(.+,\s*\w+\)", variable_query(variable)), name
        if variable.get("multi") or variable.get("includeAll"):
            # Without allValue, "All" becomes (a|b|…) of the values loaded when the page opened.
            assert variable.get("allValue") == ".*", name


@pytest.mark.parametrize(("uid", "title", "expr"), PARAMS)
def test_variables_appear_only_in_regex_matchers(uid: str, title: str, expr: str) -> None:
    # A multi-value variable expands to a|b: only a =~ matcher can take that.
    without_matchers = re.sub(r'\w+\s*=~\s*"[^"]*"', "", expr)
    assert not variables_used(without_matchers), expr


@pytest.mark.parametrize(("uid", "title", "expr"), PARAMS)
def test_every_range_is_a_grafana_interval(uid: str, title: str, expr: str) -> None:
    # A literal window is too short at another scrape interval (rate() of one sample is nothing)
    # and blurs a zoomed-in graph; $__rate_interval follows the data source's scrape interval.
    for window in re.findall(r"\[([^\]]*)\]", expr):
        assert window in ("$__rate_interval", "$__range"), f"{title}: [{window}]"


@pytest.mark.parametrize(("uid", "title", "expr"), PARAMS)
def test_every_metric_and_label_exists_in_the_code(uid: str, title: str, expr: str) -> None:
    known = emitted_series()
    series = metric_selectors(expr)
    assert series, f"{title}: no metric found in {expr!r}"
    for metric, labels in series:
        assert metric in known, f"{title}: {metric} is not a metric the code exports"
        unknown = labels - known[metric] - TARGET_LABELS
        assert not unknown, f"{title}: {metric} has no label(s) {sorted(unknown)}"
    available = set().union(*(known[m] for m, _ in series)) | TARGET_LABELS
    assert grouping_labels(expr) <= available, f"{title}: grouping by an unknown label"
    for legend_label in re.findall(r"\{\{\s*(\w+)\s*\}\}", _legend(uid, title, expr)):
        assert legend_label in available | grouping_labels(expr), f"{title}: {legend_label}"


@pytest.mark.parametrize(("uid", "title", "expr"), PARAMS)
def test_selectors_follow_the_dashboard_variables(uid: str, title: str, expr: str) -> None:
    for match in re.finditer(r"(?<![\w:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?", expr):
        name, matchers = match.groups()
        for prefix, required in REQUIRED_MATCHERS.items():
            if name.startswith(prefix):
                assert required in (matchers or ""), f"{title}: {name} lacks {required}"


@pytest.mark.parametrize(("uid", "title", "expr"), PARAMS)
def test_rates_are_over_counters_and_quantiles_keep_le(uid: str, title: str, expr: str) -> None:
    for function, metric in re.findall(r"\b(rate|irate|increase)\(\s*([a-zA-Z_:][\w:]*)", expr):
        assert metric.endswith(COUNTER_SUFFIXES), f"{title}: {function}() of gauge {metric}"
    for inner in re.findall(r"histogram_quantile\(\s*[\d.]+\s*,\s*sum by \(([^)]*)\)", expr):
        assert "le" in {label.strip() for label in inner.split(",")}, f"{title}: sum drops le"
    assert expr.count("histogram_quantile(") == len(
        re.findall(r"histogram_quantile\(\s*[\d.]+\s*,\s*sum by \(", expr)
    ), f"{title}: a quantile over an unaggregated histogram mixes instances' buckets by accident"


def test_threshold_lines_match_the_alert_rules() -> None:
    # A panel whose description names an alert's threshold draws it; the two must agree.
    thresholds = {
        name: float(re.findall(r"(?:>|<)=?\s*(\d+(?:\.\d+)?)\s*$", expr.strip())[0])
        for name, expr in exprs().items()
        if re.search(r"(?:>|<)=?\s*\d+(?:\.\d+)?\s*$", expr.strip())
    }
    checked = 0
    for dashboard in load_dashboards().values():
        for panel in query_panels(dashboard):
            for name, value in thresholds.items():
                if f"{name}'s threshold" not in panel["description"]:
                    continue
                steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
                drawn = {step["value"] for step in steps if step["value"] is not None}
                assert value in drawn, f"{panel['title']}: {name} fires above {value}, not {drawn}"
                checked += 1
    assert checked >= 5


# -- provisioning -------------------------------------------------------------------------------


def test_the_datasource_is_provisioned_with_the_uid_the_panels_use() -> None:
    document = load_yaml(DATASOURCES)
    assert document["apiVersion"] == 1
    (source,) = document["datasources"]
    assert source["uid"] == DATASOURCE["uid"]
    assert source["type"] == DATASOURCE["type"]
    assert source["access"] == "proxy"
    # The Compose service that prometheus.yml's own scrape job calls localhost:9090.
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True


def test_the_datasource_scrape_interval_is_prometheus_scrape_interval() -> None:
    # $__rate_interval is four scrape intervals as Grafana knows them: too small a value here
    # gives rate() windows of one sample, which return nothing.
    source = load_yaml(DATASOURCES)["datasources"][0]
    prometheus = load_yaml(PROMETHEUS_CONFIG)
    assert source["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]


def test_the_dashboard_provider_reads_the_mounted_dashboards() -> None:
    document = load_yaml(PROVIDERS)
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    path = provider["options"]["path"]
    assert path.startswith("/"), "a container path"
    text = PROVIDERS.read_text(encoding="utf-8")
    # The comment is what the Compose file is written from: it must name the same paths.
    mounts = dict(re.findall(r"#\s+(dashboards/grafana/\S+)\s+→\s+(\S+)", text))
    assert mounts.get("dashboards/grafana/dashboards/", "").rstrip("/") == path.rstrip("/")
    assert mounts.get("dashboards/grafana/provisioning/") == "/etc/grafana/provisioning/"
    for repo_path in mounts:
        assert (ROOT / repo_path).is_dir(), repo_path
    assert DATASOURCES.parent.name == "datasources" and PROVIDERS.parent.name == "dashboards"
    assert DATASOURCES.parent.parent == PROVIDERS.parent.parent == PROVISIONING_DIR


def _legend(uid: str, title: str, expr: str) -> str:
    for dashboard in load_dashboards().values():
        if dashboard["uid"] != uid:
            continue
        for panel in query_panels(dashboard):
            for target in panel["targets"]:
                if panel["title"] == title and target["expr"] == expr:
                    return str(target.get("legendFormat", ""))
    raise AssertionError(f"{uid}/{title}: no such target")
