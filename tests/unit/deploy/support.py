"""What the deployment files may set, derived from the config models rather than listed by hand.

A renamed or removed setting then fails these tests instead of being silently ignored by a
container that still sets the old variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from loadtest.app.config import AppConfig
from shipper.config import ENV_PREFIX as SHIPPER_PREFIX
from shipper.config import ShipperConfig, env_names
from shipper.indexer.config import ENV_PREFIX as INDEXER_PREFIX
from shipper.indexer.config import IndexerConfig

__all__ = [
    "APP_PREFIX",
    "IMAGE_ENV",
    "REPOSITORY",
    "known_env_names",
    "unknown_env_names",
    "unknown_options",
]

REPOSITORY: Final = Path(__file__).resolve().parents[3]

APP_PREFIX: Final = "LOADTEST_APP_"
"""`loadtest app` reads one variable per AppConfig field (shipper.cli.options.model_options)."""

IMAGE_ENV: Final = frozenset({"HEALTHCHECK_PORT", "HEALTHCHECK_PATH"})
"""Read by the Dockerfile's HEALTHCHECK, not by logferry."""

_CONFIG_FILE_ENV: Final = frozenset({"SHIPPER_CONFIG", "INDEXER_CONFIG"})
"""The --config options' variables (a path, not a setting)."""


def known_env_names() -> frozenset[str]:
    """Every SHIPPER_*, INDEXER_* and LOADTEST_APP_* variable some logferry command reads."""
    return frozenset(
        {
            *env_names(ShipperConfig, SHIPPER_PREFIX),
            *env_names(IndexerConfig, INDEXER_PREFIX),
            *(APP_PREFIX + name.upper() for name in AppConfig.model_fields),
            *_CONFIG_FILE_ENV,
        }
    )


def unknown_env_names(environment: Mapping[str, object]) -> set[str]:
    """The names in *environment* that neither logferry nor the image reads."""
    return set(environment) - known_env_names() - IMAGE_ENV


def unknown_options(program: str, argv: list[str]) -> set[str]:
    """The ``--flags`` in *argv* (``SUBCOMMAND --flag value …``) that the subcommand lacks.

    Raises KeyError when *program* has no such subcommand.
    """
    import click

    from loadtest.cli import main as loadtest_group
    from shipper.cli import cli as shipper_group

    group = {"shipper": shipper_group, "loadtest": loadtest_group}[program]
    assert isinstance(group, click.Group)
    command = group.get_command(click.Context(group), argv[0])
    if command is None:
        raise KeyError(argv[0])
    declared = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    used = {arg.split("=", 1)[0] for arg in argv[1:] if arg.startswith("--")}
    return used - declared
