"""The ECS component template is generated and current; rendering the installables."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines._ecs_fields import ECS_FIELD_TYPES
from pipelines.route import RESERVED_INDEX_PATTERNS
from shipper.errors import ConfigError
from shipper.indexer.config import IndexConfig, RetentionConfig
from shipper.indexer.ecs_mappings import OVERRIDES, render
from shipper.indexer.templates import (
    ClusterFeatures,
    Installable,
    fill,
    parses_origination_date,
    render_all,
    with_fallbacks,
)
from shipper.resources import INDEX_TEMPLATES, TEMPLATE_FILES, files_with_suffix

ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ClusterFeatures(
    ilm=False,
    missing_types=frozenset({"wildcard", "constant_keyword", "match_only_text", "scaled_float"}),
)
FULL = ClusterFeatures(ilm=True)


def by_name(items: list[Installable]) -> dict[str, Installable]:
    return {item.name: item for item in items}


def test_ecs_mappings_json_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shipper.indexer.ecs_mappings", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_ecs_field_is_typed_by_a_dynamic_template_or_an_explicit_mapping() -> None:
    mappings = render()["template"]["mappings"]
    typed: dict[str, str] = {}
    for entry in mappings["dynamic_templates"]:
        (spec,) = entry.values()
        for path in spec.get("path_match", []):
            assert path not in typed, f"{path} in two dynamic templates"
            typed[path] = spec["mapping"]["type"]
    assert set(typed) | set(OVERRIDES) >= set(ECS_FIELD_TYPES)
    for field, es_type in ECS_FIELD_TYPES.items():
        if field not in OVERRIDES:
            assert typed[field] == es_type, field
    # What the issue and DESIGN.md ask, explicitly:
    props = mappings["properties"]
    assert props["@timestamp"] == {"type": "date"}
    assert props["message"] == {"type": "text"}
    assert props["error"]["properties"]["stack_trace"]["type"] == "text"
    assert props["event"]["properties"]["duration"]["type"] == "long"
    assert props["http"]["properties"]["response"]["properties"]["status_code"]["type"] == "short"
    assert props["app"]["type"] == "flattened"
    assert mappings["date_detection"] is False
    last = mappings["dynamic_templates"][-1]["strings_as_keyword"]
    assert last["mapping"] == {"type": "keyword", "ignore_above": 1024}


def test_fill_keeps_the_type_of_whole_placeholders_and_formats_embedded_ones() -> None:
    assert fill({"a": "{n}", "b": ["x-{n}"], "c": 3}, {"n": 2}) == {"a": 2, "b": ["x-2"], "c": 3}
    with pytest.raises(ConfigError, match="unknown placeholder"):
        fill("{nope} days", {})


def test_fallbacks_replace_missing_types_and_drop_their_parameters() -> None:
    tree: dict[str, Any] = {
        "a": {"type": "wildcard"},
        "b": {"type": "scaled_float", "scaling_factor": 1000},
        "c": {"type": "flattened", "ignore_above": 10, "depth_limit": 3},
        "d": {"type": "keyword"},
    }
    result = with_fallbacks(tree, frozenset({"wildcard", "scaled_float", "flattened"}), 512)
    assert result == {
        "a": {"type": "keyword", "ignore_above": 512},
        "b": {"type": "float"},
        "c": {"type": "object", "enabled": False},
        "d": {"type": "keyword"},
    }


def test_rendering_for_a_minimal_cluster_has_no_ilm_and_no_missing_types() -> None:
    index = IndexConfig(number_of_shards=2, number_of_replicas=0, refresh_interval_s=0.5)
    items = by_name(render_all(index, RetentionConfig(), MINIMAL))
    assert set(items) == {
        "app-logs@settings",
        "app-logs@ecs-mappings",
        "app-logs",
        "app-logs-deadletter",
    }
    settings = items["app-logs@settings"].body["template"]["settings"]["index"]
    assert settings["number_of_shards"] == 2
    assert settings["number_of_replicas"] == 0
    assert settings["refresh_interval"] == "500ms"
    assert settings["mapping"]["total_fields"]["limit"] == 2000
    assert "lifecycle" not in settings
    text = orjson.dumps(items["app-logs@ecs-mappings"].body).decode()
    for missing in MINIMAL.missing_types:
        assert f'"type":"{missing}"' not in text
    template = items["app-logs"].body
    assert template["index_patterns"] == ["app-logs-*-*"]
    assert template["composed_of"] == ["app-logs@settings", "app-logs@ecs-mappings"]
    dead = items["app-logs-deadletter"].body
    assert dead["index_patterns"] == ["app-logs-deadletter-*"]
    assert dead["priority"] > template["priority"]  # it wins over app-logs-*-*


def test_rendering_for_a_full_cluster_adds_ilm_policies_that_delete_after_the_retention() -> None:
    rendered = render_all(IndexConfig(), RetentionConfig(days=14, deadletter_days=60), FULL)
    items = by_name([i for i in rendered if i.kind != "ILM policy"])
    policy = next(i for i in rendered if i.kind == "ILM policy" and i.name == "app-logs").body[
        "policy"
    ]
    assert policy["phases"]["delete"] == {"min_age": "14d", "actions": {"delete": {}}}
    assert items["app-logs-deadletter"].kind == "index template"
    kinds = [(i.kind, i.name) for i in render_all(IndexConfig(), RetentionConfig(), FULL)]
    assert kinds[:2] == [("ILM policy", "app-logs"), ("ILM policy", "app-logs-deadletter")]
    dead_policy = next(
        i
        for i in render_all(IndexConfig(), RetentionConfig(deadletter_days=60), FULL)
        if i.kind == "ILM policy" and i.name == "app-logs-deadletter"
    )
    assert dead_policy.body["policy"]["phases"]["delete"]["min_age"] == "60d"
    settings = items["app-logs@settings"].body["template"]["settings"]["index"]
    assert settings["lifecycle"] == {"name": "app-logs", "parse_origination_date": True}
    dead = items["app-logs-deadletter"].body["template"]["settings"]["index"]
    assert dead["lifecycle"]["name"] == "app-logs-deadletter"


def test_origination_date_is_parsed_only_from_names_ilm_can_read() -> None:
    assert parses_origination_date(IndexConfig())
    assert not parses_origination_date(IndexConfig(date_format="%Y-%m-%d"))
    assert not parses_origination_date(
        IndexConfig(index_pattern="logs2-{date}-{service}", deadletter_pattern="logs2-dl-{date}")
    )


def test_checksums_are_stable_and_follow_the_config() -> None:
    first = {i.name: i.checksum for i in render_all(IndexConfig(), RetentionConfig(), MINIMAL)}
    assert len(first) == 4
    again = {i.name: i.checksum for i in render_all(IndexConfig(), RetentionConfig(), MINIMAL)}
    assert first == again
    changed = {
        i.name: i.checksum
        for i in render_all(IndexConfig(number_of_replicas=2), RetentionConfig(), MINIMAL)
    }
    assert changed["app-logs@settings"] != first["app-logs@settings"]
    assert changed["app-logs@ecs-mappings"] == first["app-logs@ecs-mappings"]
    assert {i.name: i.checksum for i in render_all(IndexConfig(), RetentionConfig(), FULL)} != first


def test_the_index_patterns_never_match_the_data_stream_templates() -> None:
    for item in render_all(IndexConfig(), RetentionConfig(), FULL):
        for pattern in item.body.get("index_patterns", []):
            example = pattern.replace("*", "x-y")
            for reserved in RESERVED_INDEX_PATTERNS:
                assert not fnmatch.fnmatchcase(example, reserved), (pattern, reserved)


def test_the_packaged_templates_are_every_file_rendered_and_valid_json() -> None:
    # An empty or partial templates directory is exactly how an installed wheel used to fail.
    names = [entry.name for entry in files_with_suffix(INDEX_TEMPLATES, ".json")]
    assert sorted(names) == sorted(TEMPLATE_FILES)
    for name in TEMPLATE_FILES:
        body = orjson.loads((INDEX_TEMPLATES / name).read_bytes())
        assert isinstance(body, dict) and body, name
    # render_all reads each of them: a file it needs but TEMPLATE_FILES misses fails above.
    assert len(render_all(IndexConfig(), RetentionConfig(), FULL)) == 6


def test_templates_dir_points_setup_at_the_operators_own_copies(tmp_path: Path) -> None:
    own = tmp_path / "templates"
    shutil.copytree(str(INDEX_TEMPLATES), own)
    settings = orjson.loads((own / "settings.json").read_bytes())
    settings["template"]["settings"]["index"]["codec"] = "best_compression"
    (own / "settings.json").write_bytes(orjson.dumps(settings))
    items = by_name(render_all(IndexConfig(templates_dir=own), RetentionConfig(), MINIMAL))
    index_settings = items["app-logs@settings"].body["template"]["settings"]["index"]
    assert index_settings["codec"] == "best_compression"
    packaged = by_name(render_all(IndexConfig(), RetentionConfig(), MINIMAL))
    assert "codec" not in packaged["app-logs@settings"].body["template"]["settings"]["index"]

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=rf"index template file {empty}/settings.json: No such"):
        render_all(IndexConfig(templates_dir=empty), RetentionConfig(), MINIMAL)


@pytest.mark.parametrize(
    ("asked", "data_nodes", "expected"),
    [(None, 1, 0), (None, 2, 1), (None, 3, 1), (None, None, 1), (0, 3, 0), (2, 1, 2)],
)
def test_replicas_follow_the_data_nodes_unless_set(
    asked: int | None, data_nodes: int | None, expected: int
) -> None:
    features = ClusterFeatures(ilm=True, data_nodes=data_nodes)
    items = by_name(render_all(IndexConfig(number_of_replicas=asked), RetentionConfig(), features))
    settings = items["app-logs@settings"].body["template"]["settings"]["index"]
    assert settings["number_of_replicas"] == expected
