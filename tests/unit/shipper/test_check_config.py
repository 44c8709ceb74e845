"""`shipper check-config` reports every mistake of a config at once, each with its key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipper.cli import cli
from shipper.config import load_config
from shipper.errors import ConfigError
from shipper.indexer.config import load_indexer_config

_MISTAKES = """\
outptu:
  url: console
input:
  pathz: [a.log]
output:
  kafka:
    linger_ms: soon
metrics_addr: "9108"
"""


def test_every_mistake_is_one_line_with_its_key_and_a_close_name(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(_MISTAKES)
    result = subprocess.run(
        [sys.executable, "-m", "shipper", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, result.stderr
    assert all(line.startswith("error: ") and line.endswith(f"(in {path})") for line in lines)
    text = result.stderr
    assert "error: input.pathz: Extra inputs are not permitted (did you mean paths?)" in text
    assert "error: output.kafka.linger_ms: Input should be a valid integer" in text
    assert "error: metrics_addr: must be HOST:PORT" in text
    assert "error: outptu: Extra inputs are not permitted (did you mean output?)" in text


def test_the_problems_are_listed_on_the_error(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(_MISTAKES)
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    assert [line.split(":")[0] for line in raised.value.problems] == [
        "input.pathz",
        "output.kafka.linger_ms",
        "metrics_addr",
        "outptu",
    ]


def test_no_suggestion_when_nothing_is_close() -> None:
    with pytest.raises(ConfigError) as raised:
        load_indexer_config(overrides={"bulk": {"zzz": 1}}, environ={})
    assert raised.value.problems == ("bulk.zzz: Extra inputs are not permitted",)


def test_misspelt_indexer_keys_get_suggestions_at_their_level() -> None:
    with pytest.raises(ConfigError) as raised:
        load_indexer_config(
            overrides={"elasticsearch": {"request_timeout": 5}, "retention": {"days": 0}},
            environ={},
        )
    assert raised.value.problems == (
        "elasticsearch.request_timeout: Extra inputs are not permitted "
        "(did you mean request_timeout_s?)",
        "retention.days: Input should be greater than or equal to 1",
    )


def test_every_unset_variable_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text("output:\n  url: kafka://${BROKER}/t\nservice:\n  name: ${SERVICE}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    assert [line.split(":")[0] for line in raised.value.problems] == ["output.url", "service.name"]


def test_a_bad_json_list_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^SHIPPER_INPUT_PATHS: not valid JSON"):
        load_config(environ={"SHIPPER_INPUT_PATHS": '["a",'})
    assert load_config(environ={"SHIPPER_INPUT_PATHS": '["a", "b"]'}).input.paths == ["a", "b"]


def test_check_config_of_a_good_file_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text("service:\n  name: checkout\n")
    result = CliRunner().invoke(cli, ["check-config", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "name: checkout" in result.output
