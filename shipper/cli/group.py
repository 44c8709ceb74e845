"""The `shipper` command group (its commands load lazily; see :mod:`shipper.cli`)."""

from __future__ import annotations

import click

from shipper import __version__
from shipper.commandline import LazyGroup

__all__ = ["cli"]

_COMMANDS = {
    "run": "shipper.cli.run:run",
    "check-config": "shipper.cli.run:check_config",
    "stack": "shipper.cli.stack:stack",
    "setup": "shipper.cli.setup:setup",
    "index": "shipper.cli.index:index",
    "retention": "shipper.cli.index:retention",
    "search": "shipper.cli.search:search",
    "trace": "shipper.cli.search:trace",
    "top": "shipper.cli.top:top",
}


@click.group(
    cls=LazyGroup,
    lazy=_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(__version__, prog_name="shipper")
def cli() -> None:
    """logferry: tail JSON logs, enrich them, ship them through Kafka into Elasticsearch."""
