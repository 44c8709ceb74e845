"""`shipper run` and `shipper check-config`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
import yaml

from shipper.config import env_names, load_config, masked
from shipper.logs import configure_logging

__all__ = ["check_config", "run"]

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="SHIPPER_CONFIG",
    show_envvar=True,
    help="YAML config file (${VAR} and ${VAR:-default} are interpolated).",
)


def _overrides(
    paths: tuple[str, ...],
    output: str | None,
    state_dir: Path | None,
    metrics_addr: str | None,
    service: str | None,
    log_level: str | None,
) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if paths:
        overrides["input"] = {"paths": list(paths)}
    if output:
        overrides["output"] = {"url": output}
    if state_dir:
        overrides["state_dir"] = state_dir
    if metrics_addr:
        overrides["metrics_addr"] = metrics_addr
    if service:
        overrides["service"] = {"name": service}
    if log_level:
        overrides["log_level"] = log_level
    return overrides


def _common_options(func: Any) -> Any:
    for option in reversed(
        [
            _config_option,
            click.option(
                "--path",
                "paths",
                multiple=True,
                help="Glob of files to tail (repeatable). [default: logs/app.log]",
            ),
            click.option(
                "--output",
                help="kafka://HOST:PORT[,HOST:PORT]/TOPIC, file:///PATH or console. [default: kafka://127.0.0.1:9092/app-logs]",
            ),
            click.option(
                "--state-dir",
                type=click.Path(path_type=Path, file_okay=False),
                help="Checkpoint directory. [default: .shipper-state]",
            ),
            click.option(
                "--metrics-addr",
                help="HOST:PORT for /metrics, /healthz, /readyz. [default: 127.0.0.1:9108]",
            ),
            click.option("--service", help="service.name of the events. [default: app]"),
            click.option(
                "--log-level",
                type=click.Choice(["debug", "info", "warning", "error"]),
                help="Own log level. [default: info]",
            ),
        ]
    ):
        func = option(func)
    return func


_ENV_HELP = (
    "Every setting can also be set by an environment variable: "
    + ", ".join(sorted(env_names()))
    + "."
)


@click.command(epilog=_ENV_HELP)
@_common_options
def run(config_path: Path | None, **flags: Any) -> None:
    """Tail log files, enrich each line, publish it; checkpoints only what the output acknowledged.

    With no config and no flags: tails logs/app.log into the local stack's Kafka (topic app-logs).
    Flags override the config file, which overrides nothing else; env vars sit between the two.
    SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config file.
    """
    from shipper.runner import Shipper

    overrides = _overrides(**flags)
    config = load_config(config_path, overrides)
    configure_logging(config.log_level)
    code = asyncio.run(Shipper(config, config_path=config_path, overrides=overrides).run())
    raise SystemExit(code)


@click.command("check-config", epilog=_ENV_HELP)
@_common_options
def check_config(config_path: Path | None, **flags: Any) -> None:
    """Validate the configuration and print the effective one (secrets masked); exit 2 if invalid."""
    config = load_config(config_path, _overrides(**flags))
    click.echo(yaml.safe_dump(masked(config), sort_keys=False), nl=False)
