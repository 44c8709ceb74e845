"""The `shipper` command line: it parses, builds a config object and calls the runtime."""

from __future__ import annotations

import click

from shipper import __version__
from shipper.cli.index import index, retention
from shipper.cli.run import check_config, run
from shipper.cli.search import search, trace
from shipper.cli.setup import setup
from shipper.cli.stack import stack
from shipper.commandline import LogferryGroup

__all__ = ["cli", "main"]


@click.group(
    cls=LogferryGroup,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(__version__, prog_name="shipper")
def cli() -> None:
    """logferry: tail JSON logs, enrich them, ship them through Kafka into Elasticsearch."""


cli.add_command(run)
cli.add_command(check_config)
cli.add_command(stack)
cli.add_command(setup)
cli.add_command(index)
cli.add_command(retention)
cli.add_command(search)
cli.add_command(trace)


def main() -> None:
    """Console-script entry point (errors become one line and an exit code: LogferryGroup)."""
    cli()
