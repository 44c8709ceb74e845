"""`loadtest run`, `scenarios` and `demo`: options, one-line errors, exit codes (the runner patched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loadtest import cli
from loadtest.harness.config import RunConfig


class _Report:
    def __init__(self, passed: bool) -> None:
        self.passed = passed


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[RunConfig]:
    """The configs `loadtest run` would run; the run itself passes."""
    configs: list[RunConfig] = []

    async def fake_run(config: RunConfig, _console: Any) -> _Report:
        configs.append(config)
        return _Report(passed="fail" not in config.expect_firing)

    monkeypatch.setattr("loadtest.harness.runner.run_load_test", fake_run)
    return configs


def test_run_builds_the_config_from_flags(captured: list[RunConfig]) -> None:
    result = CliRunner().invoke(
        cli.main,
        ["run", "--scenario", "error-spike", "--duration", "2m", "--users", "5",
         "--expect-firing", "AppHighLatencyP95", "--profile", "real"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = captured[0]
    assert (config.scenario, config.duration_s, config.users) == ("error-spike", 120.0, 5)
    assert config.expect_firing == ("AppHighLatencyP95",) and config.profile == "real"


def test_a_failed_expectation_exits_1(captured: list[RunConfig]) -> None:
    result = CliRunner().invoke(
        cli.main, ["run", "--scenario", "baseline", "--expect-firing", "fail"]
    )
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope"], "baseline"),
        (["--scenario", "baseline", "--duration", "soon"], "not a duration"),
        (["--scenario", "baseline", "--profile", "slow"], "fast"),
        (["--scenario", "baseline", "--users", "0"], "users"),
        (["--scenario", "baseline", "--host", "http://127.0.0.1:8080"], "--app-log"),
        (["--scenario", "baseline", "--shipper", "127.0.0.1:9108"], "--indexer"),
        (["--scenario", "baseline", "--prometheus", "http://127.0.0.1:9090"], "--alertmanager"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    captured: list[RunConfig], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli.main, ["run", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert captured == []


def test_scenarios_lists_each_with_its_expectations() -> None:
    result = CliRunner().invoke(cli.main, ["scenarios"])
    assert result.exit_code == 0
    for name in ("baseline", "error-spike", "latency-spike", "log-flood"):
        assert f"{name}:" in result.output
    assert "must fire: AppHighErrorRatio" in result.output


@pytest.mark.parametrize("command", [["run"], ["demo"], ["demo", "down"], ["scenarios"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli.main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize(
    ("flag", "what"), [("--rules", "alert rules"), ("--alertmanager-config", "Alertmanager config")]
)
def test_an_unreadable_file_fails_the_run_before_it_creates_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str, what: str
) -> None:
    """The real runner: it reads its files first, so a wrong path leaves no report or work dir."""
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "elsewhere" / "missing.yml"
    result = CliRunner().invoke(cli.main, ["run", "--scenario", "baseline", flag, str(missing)])
    assert result.exit_code == 3, result.output
    assert f"cannot read the {what} at {missing}" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no loadtest-reports/, no .loadtest/
