"""The YAML-shaped stage list: validation, defaults, errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines import DEFAULT_STAGES, Pipeline, load_stage_configs, load_stage_configs_yaml
from pipelines.config import STAGE_TYPES
from pipelines.correlate import CorrelateConfig
from pipelines.drop import DropConfig
from pipelines.errors import PipelineConfigError
from pipelines.parse import ParseConfig
from pipelines.route import RouteConfig

YAML = """
pipeline:
  - type: parse
    empty_lines: drop
  - type: timestamp
    timezone: Europe/Berlin
  - type: redact
    extra_patterns: {iban: '\\b[A-Z]{2}\\d{2}[A-Z0-9]{11,30}\\b'}
  - type: ecs
    mapping: {customer: user.id}
  - type: correlate
    inherit: true
    inherit_window_s: 1.5
  - type: derive
  - type: drop
    levels: [debug]
  - type: route
    index_pattern: app-logs-{service}-{date}
"""


def test_none_is_the_default_chain() -> None:
    assert load_stage_configs(None) == list(DEFAULT_STAGES)


def test_yaml() -> None:
    configs = load_stage_configs_yaml(YAML)
    assert [config.type for config in configs] == [
        "parse",
        "timestamp",
        "redact",
        "ecs",
        "correlate",
        "derive",
        "drop",
        "route",
    ]
    correlate = configs[4]
    assert isinstance(correlate, CorrelateConfig) and correlate.inherit_window_s == 1.5
    Pipeline.from_config(configs)


def test_yaml_list_at_top_level() -> None:
    assert load_stage_configs_yaml("- type: derive\n")[0].type == "derive"


def test_models_and_dicts_mix() -> None:
    configs = load_stage_configs([ParseConfig(), {"type": "derive"}])
    assert [config.type for config in configs] == ["parse", "derive"]


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        (
            [{"type": "nope"}],
            r"^pipeline\[0\]\.type: unknown stage type; expected one of correlate, ",
        ),
        ([{"timezone": "UTC"}], r"^pipeline\[0\]\.type: missing"),
        ([{"type": "derive"}, "derive"], r"^pipeline\[1\]: expected a mapping"),
        ([{"type": "derive", "failure_status_min": "x"}], r"^pipeline\[0\]\.failure_status_min: "),
        (
            [{"type": "derive", "typo_key": 1}],
            r"^pipeline\[0\]\.typo_key: Extra inputs are not permitted",
        ),
        ([{"type": "drop"}], r"^pipeline\[0\]: a drop stage needs"),
        (
            [{"type": "drop", "reason": "Has Spaces", "levels": ["debug"]}],
            r"^pipeline\[0\]\.reason: ",
        ),
        (
            [{"type": "derive"}, {"type": "parse"}],
            r"^pipeline\[1\]\.type: 'parse' must be the first stage",
        ),
        ([{"type": "route"}, {"type": "route"}], r"^pipeline\[1\]\.type: only one 'route' stage"),
        ({"type": "parse"}, r"^pipeline: expected a list"),
        ([{"type": "ecs", "mapping": {"a": 5}}], r"^pipeline\[0\]\.mapping\.a: "),
    ],
)
def test_errors_name_the_key(stages: Any, message: str) -> None:
    with pytest.raises(PipelineConfigError, match=message):
        Pipeline.from_config(stages)


def test_bad_yaml() -> None:
    with pytest.raises(PipelineConfigError, match=r"^pipeline: not valid YAML"):
        load_stage_configs_yaml("- [unclosed")


def test_parse_and_route_are_implicit() -> None:
    pipeline = Pipeline.from_config([{"type": "derive"}])
    assert pipeline.router is not None
    assert pipeline.index_for({"@timestamp": "2024-05-01T00:00:00Z"}).startswith(
        "app-logs-unknown-"
    )


def test_every_field_is_documented_and_units_are_in_names() -> None:
    for model in STAGE_TYPES:
        assert model.model_config.get("extra") == "forbid"
        for name, field in model.model_fields.items():
            if name != "type":
                assert field.description, f"{model.__name__}.{name} has no description"
            if field.annotation in (int, float) and ("window" in name or "timeout" in name):
                assert name.endswith(("_s", "_ms")), name


def test_configs_are_immutable() -> None:
    config = DropConfig(levels=["debug"])
    with pytest.raises(Exception, match="frozen"):
        config.reason = "other"  # type: ignore[misc]
    assert RouteConfig().index_pattern == "app-logs-{service}-{date}"
