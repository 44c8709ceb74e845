"""`shipper run` and `shipper check-config`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
import yaml

from shipper.commandline import env_epilog, flag, given_settings, model_options
from shipper.config import ENV_PREFIX, ShipperConfig, load_config, masked
from shipper.logs import configure_logging

__all__ = ["check_config", "run"]

_options = model_options(
    ShipperConfig,
    ENV_PREFIX,
    config_envvar="SHIPPER_CONFIG",
    flags=[
        flag("input.paths", "--path", help="Glob of files to tail (repeatable)."),
        flag("output.url", "--output"),
        flag("state_dir", type=click.Path(path_type=Path, file_okay=False)),
        "metrics_addr",
        flag("service.name", "--service"),
        "log_level",
    ],
)
_ENV_HELP = env_epilog(ShipperConfig, ENV_PREFIX)


@click.command(epilog=_ENV_HELP)
@_options
def run(config_path: Path | None, **flags: Any) -> None:
    """Tail log files, enrich each line, publish it; checkpoints only what the output acknowledged.

    With no config and no flags: tails logs/app.log into the local stack's Kafka (topic app-logs).
    Flags override the config file, which overrides nothing else; env vars sit between the two.
    SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config file.
    """
    from shipper.runner import Shipper

    overrides = given_settings(flags)
    config = load_config(config_path, overrides)
    configure_logging(config.log_level)
    code = asyncio.run(Shipper(config, config_path=config_path, overrides=overrides).run())
    raise SystemExit(code)


@click.command("check-config", epilog=_ENV_HELP)
@_options
def check_config(config_path: Path | None, **flags: Any) -> None:
    """Validate the configuration and print the effective one (secrets masked); exit 2 if invalid.

    Every problem is reported at once, one line each, naming its key (and the key meant, for a
    misspelt one).
    """
    config = load_config(config_path, given_settings(flags))
    click.echo(yaml.safe_dump(masked(config), sort_keys=False), nl=False)
