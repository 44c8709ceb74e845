"""`shipper stack`: the local Kafka / Elasticsearch / Prometheus / Alertmanager."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import click
from rich.table import Table

from shipper import stack as local_stack
from shipper.cli.output import out_console, progress
from shipper.commandline import model_from_options, model_options

__all__ = ["stack"]


def _table(states: list[local_stack.ServiceState], title: str) -> Table:
    table = Table(title=title)
    for column in ("service", "state", "listens on", "version", "pid", "healthy after"):
        table.add_column(column, no_wrap=True)
    for s in states:
        colour = "green" if s.healthy else ("yellow" if s.state == "not installed" else "red")
        table.add_row(
            s.name,
            f"[{colour}]{s.state}[/]",
            s.url,
            s.version or "-",
            str(s.pid or "-"),
            f"{s.seconds}s" if s.seconds is not None and s.state == "started" else "-",
        )
    return table


@click.group()
def stack() -> None:
    """A local Kafka, Elasticsearch, Prometheus, Alertmanager and node exporter, without Docker."""


_SERVICE_KINDS = ", ".join(cls.kind for cls in local_stack.services.SERVICES)
# A kind (every node of it) or one node of a cluster (kafka-2): the names follow the settings.
_services_argument = click.argument(
    "services", nargs=-1, metavar=f"[SERVICES: {_SERVICE_KINDS}, or a node such as kafka-2]..."
)


@stack.command()
@_services_argument
@model_options(local_stack.StackSettings, "LOGFERRY_STACK_")
def up(services: tuple[str, ...], **options: Any) -> None:
    """Start every service (or the SERVICES named) that is not running; wait until healthy.

    Kafka and Elasticsearch are resolved from Maven Central on first use (cached);
    Prometheus, Alertmanager and the node exporter come from Debian's packages.
    """
    settings = model_from_options(local_stack.StackSettings, options)
    started_at = time.monotonic()
    states = local_stack.up(settings, progress, only=services)
    out = out_console
    if all(s.state in ("already running", "not installed") for s in states):
        out.print("stack already up: nothing to do")
    out.print(_table(states, f"logferry stack ({time.monotonic() - started_at:.1f}s)"))
    for s in states:
        if s.hint:
            out.print(f"[yellow]{s.hint}[/]")
    _print_secure(settings)


def _print_secure(settings: local_stack.StackSettings) -> None:
    """Where secure mode's CA, credentials and client configs are: paths, never the secrets."""
    from shipper.stack import secure

    if secure.enabled(settings.state_dir, settings.secure):
        for line in secure.describe(settings.state_dir):
            out_console.print(line)


@stack.command()
@model_options(local_stack.StackSettings, "LOGFERRY_STACK_")
def status(**options: Any) -> None:
    """Show each service: running and healthy (with its version), unhealthy, or stopped.

    Exits 1 when an installed service is not healthy.
    """
    settings = model_from_options(local_stack.StackSettings, options)
    states = local_stack.status(settings)
    out_console.print(_table(states, "logferry stack"))
    _print_secure(settings)
    if any(not s.healthy and s.state != "not installed" for s in states):
        raise SystemExit(1)


@stack.command()
@_services_argument
@click.option("--purge", is_flag=True, help="Also delete the services' data, configs and logs.")
@model_options(local_stack.StackSettings, "LOGFERRY_STACK_")
def down(services: tuple[str, ...], purge: bool, **options: Any) -> None:
    """Stop the processes `up` started (all, or the SERVICES named), by pid; keep data unless --purge."""
    settings = model_from_options(local_stack.StackSettings, options)
    local_stack.down(settings, purge=purge, progress=progress, only=services)
    out_console.print("stack down")


@stack.command()
@click.argument("service", metavar="SERVICE")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@model_options(local_stack.StackSettings, "LOGFERRY_STACK_")
def logs(service: str, lines: int, follow: bool, **options: Any) -> None:
    """Print the log of one service."""
    settings = model_from_options(local_stack.StackSettings, options)
    (chosen, *others) = local_stack.chosen(settings, [service])
    if others:
        raise click.ClickException(
            f"{service} runs as several nodes: name one ({chosen.name}, ...)"
        )
    if not chosen.log_file.exists():
        raise click.ClickException(f"no log yet for {service} at {chosen.log_file}")
    argv = ["tail", f"-n{lines}", *(["-F"] if follow else []), str(chosen.log_file)]
    if follow:
        os.execvp(argv[0], argv)
    click.echo(subprocess.run(argv, capture_output=True, text=True).stdout, nl=False)
