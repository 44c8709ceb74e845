"""Loading `shipper run`'s config: defaults, YAML with ${VAR}, SHIPPER_* env vars, flags, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from shipper.cli import cli
from shipper.config import env_names, load_config
from shipper.errors import ConfigError


def test_no_config_at_all_tails_app_log_into_the_local_kafka() -> None:
    config = load_config(environ={})
    assert config.input.paths == ["logs/app.log"]
    assert config.output.url == "kafka://127.0.0.1:9092/app-logs"
    assert config.state_dir == Path(".shipper-state")
    assert config.metrics_addr == "127.0.0.1:9108"


def test_precedence_is_flags_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(
        yaml.safe_dump({"service": {"name": "from-file"}, "metrics_addr": "127.0.0.1:1111"})
    )
    environ = {"SHIPPER_SERVICE_NAME": "from-env", "SHIPPER_INPUT_PATHS": "a/*.log, b/*.log"}
    config = load_config(path, {"service": {"name": "from-flag"}}, environ)
    assert config.service.name == "from-flag"
    assert config.input.paths == ["a/*.log", "b/*.log"]
    assert config.metrics_addr == "127.0.0.1:1111"
    assert load_config(path, {}, environ).service.name == "from-env"


def test_every_leaf_setting_has_an_env_var() -> None:
    names = env_names()
    for expected in (
        "SHIPPER_OUTPUT_URL",
        "SHIPPER_OUTPUT_KAFKA_LINGER_MS",
        "SHIPPER_INPUT_PATHS",
        "SHIPPER_STATE_DIR",
    ):
        assert expected in names


def test_env_vars_are_interpolated_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text("output:\n  url: kafka://${BROKER}/${TOPIC:-app-logs}\n")
    assert load_config(path, environ={"BROKER": "k1:9092"}).output.url == "kafka://k1:9092/app-logs"
    with pytest.raises(ConfigError, match=r"output.url: \$\{BROKER\} is not set"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"output": {"url": "kafka://localhost/"}}, r"output: .* is not kafka://HOST:PORT"),
        ({"output": {"url": "http://x"}}, r"output: 'http://x' is not kafka://"),
        ({"output": {"kafka": {"linger_ms": "soon"}}}, r"output.kafka.linger_ms: "),
        ({"metrics_addr": "9108"}, r"metrics_addr: must be HOST:PORT"),
        ({"colour": "blue"}, r"colour: Extra inputs are not permitted"),
        ({"pipeline": [{"type": "nope"}]}, r"^pipeline\[0\]\.type: unknown stage type"),
        (  # a check the pure transforms make with the runtime's context, translated at the boundary
            {"pipeline": [{"type": "ecs", "mapping": {"x": "app.y"}}]},
            r"^pipeline\[0\]\.mapping: 'x' points into the app namespace",
        ),
    ],
)
def test_a_bad_setting_is_one_message_naming_the_key(
    tmp_path: Path, document: dict, message: str
) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("document", "first_key"),
    [("output: [not, a, mapping]\n", "output"), ("pipeline: [{type: nope}]\n", "pipeline[0]")],
)
def test_bad_config_exits_2_with_one_line(tmp_path: Path, document: str, first_key: str) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(document)
    result = subprocess.run(
        [sys.executable, "-m", "shipper", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {first_key}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text("output: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "missing.yml", environ={})


def test_check_config_prints_the_effective_config_with_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "output": {
                    "kafka": {
                        "security_protocol": "SASL_SSL",
                        "sasl_username": "u",
                        "sasl_password": "hunter2",
                    }
                }
            }
        )
    )
    result = CliRunner().invoke(
        cli, ["check-config", "--config", str(path), "--service", "checkout"]
    )
    assert result.exit_code == 0, result.output
    effective = yaml.safe_load(result.output)
    assert effective["service"]["name"] == "checkout"
    assert effective["output"]["kafka"]["sasl_password"] == "********"
    assert "hunter2" not in result.output


def test_run_help_lists_flags_and_env_vars() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--config",
        "--path",
        "--output",
        "--state-dir",
        "--metrics-addr",
        "--service",
        "--log-level",
    ):
        assert flag in result.output
    assert "SHIPPER_OUTPUT_URL" in result.output
