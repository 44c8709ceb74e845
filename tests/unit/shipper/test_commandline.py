"""Flags generated from the config models in one way: help from the model, only the settings a
command reads, and flags over env vars over the file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from loadtest import cli as loadtest_cli
from loadtest.harness.config import RunConfig
from shipper.cli import cli
from shipper.indexer.config import IndexerConfig


def _help(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_search_help_names_only_what_search_reads() -> None:
    for command in ("search", "trace"):
        text = _help(command)
        assert "INDEXER_ELASTICSEARCH_URL" in text and "INDEXER_INDEX_INDEX_PATTERN" in text
        for unused in ("INDEXER_KAFKA_", "INDEXER_BULK_", "INDEXER_KIBANA_", "INDEXER_RETENTION_"):
            assert unused not in text, (command, unused)


def test_setup_help_leaves_out_the_consumer_settings() -> None:
    text = _help("setup")
    assert "INDEXER_KAFKA_TOPIC_PARTITIONS" in text and "INDEXER_KIBANA_URL" in text
    assert "INDEXER_BULK_" not in text and "INDEXER_DRAIN_TIMEOUT_S" not in text


@pytest.mark.parametrize(
    ("command", "env_var", "default"),
    [
        (["index"], "INDEXER_KAFKA_GROUP_ID", "logferry-indexer"),
        (["index"], "INDEXER_METRICS_ADDR", "127.0.0.1:9109"),
        (["retention"], "INDEXER_RETENTION_DAYS", "default: 30"),
        (["run"], "SHIPPER_STATE_DIR", ".shipper-state"),
        (["check-config"], "SHIPPER_SERVICE_NAME", "default: app"),
    ],
)
def test_each_flag_shows_its_env_var_and_the_model_default(
    command: list[str], env_var: str, default: str
) -> None:
    text = " ".join(_help(*command).split())
    assert f"env var: {env_var}" in text and default in text


def test_env_vars_sit_between_the_file_and_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(yaml.safe_dump({"service": {"name": "from-file"}, "log_level": "debug"}))
    runner = CliRunner()
    env = {"SHIPPER_SERVICE_NAME": "from-env"}
    from_env = runner.invoke(cli, ["check-config", "--config", str(path)], env=env)
    assert from_env.exit_code == 0, from_env.output
    effective = yaml.safe_load(from_env.output)
    assert effective["service"]["name"] == "from-env" and effective["log_level"] == "debug"
    from_flag = runner.invoke(
        cli, ["check-config", "--config", str(path), "--service", "from-flag"], env=env
    )
    assert yaml.safe_load(from_flag.output)["service"]["name"] == "from-flag"


def test_repeated_flags_and_comma_separated_env_vars_give_lists() -> None:
    runner = CliRunner()
    flags = runner.invoke(cli, ["check-config", "--path", "a.log", "--path", "b/*.log"])
    assert yaml.safe_load(flags.output)["input"]["paths"] == ["a.log", "b/*.log"]
    env = runner.invoke(cli, ["check-config"], env={"SHIPPER_INPUT_PATHS": "c.log, d.log"})
    assert yaml.safe_load(env.output)["input"]["paths"] == ["c.log", "d.log"]


def test_retention_days_sets_both_retentions(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[IndexerConfig] = []

    async def fake(config: IndexerConfig, dry_run: bool) -> None:
        seen.append(config)

    monkeypatch.setattr(sys.modules["shipper.cli.index"], "_retention", fake)
    result = CliRunner().invoke(cli, ["retention", "--days", "7", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (seen[0].retention.days, seen[0].retention.deadletter_days) == (7, 7)
    result = CliRunner().invoke(
        cli, ["retention", "--dry-run"], env={"INDEXER_RETENTION_DEADLETTER_DAYS": "9"}
    )
    assert (seen[1].retention.days, seen[1].retention.deadletter_days) == (30, 9)


def test_loadtest_run_reads_its_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configs: list[RunConfig] = []

    class _Report:
        passed = True

    async def fake_run(config: RunConfig, _console: Any) -> _Report:
        configs.append(config)
        return _Report()

    monkeypatch.setattr("loadtest.harness.runner.run_load_test", fake_run)
    env = {
        "LOADTEST_RUN_SCENARIO": "baseline",
        "LOADTEST_RUN_DURATION_S": "2m",
        "LOADTEST_RUN_EXPECT_FIRING": "AppHighErrorRatio,AppHighLatencyP95",
    }
    result = CliRunner().invoke(loadtest_cli.main, ["run", "--users", "3"], env=env)
    assert result.exit_code == 0, result.output
    config = configs[0]
    assert (config.scenario, config.duration_s, config.users) == ("baseline", 120.0, 3)
    assert config.expect_firing == ("AppHighErrorRatio", "AppHighLatencyP95")


def test_an_unknown_scenario_in_the_environment_is_one_line() -> None:
    result = CliRunner().invoke(loadtest_cli.main, ["run"], env={"LOADTEST_RUN_SCENARIO": "nope"})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: scenario: no scenario 'nope'; known: baseline, error-spike, latency-spike, "
        "log-flood, disk-fill, cpu-burn, es-flood-stage"
    ]
