"""`shipper top`: a live view of the shippers and indexers on this machine."""

from __future__ import annotations

import asyncio

import click

from shipper.cli.output import out_console

__all__ = ["top"]


@click.command()
@click.argument("targets", nargs=-1, metavar="[HOST:PORT]...")
@click.option(
    "--interval",
    "interval_s",
    type=click.FloatRange(min=0.1),
    default=1.0,
    help="Seconds between refreshes.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Print one table (after two scrapes) and exit; what it does when stdout is not a terminal.",
)
def top(targets: tuple[str, ...], interval_s: float, once: bool) -> None:
    """A live view of running shippers and indexers, read from their /metrics: events/s in and
    out, lag (bytes behind the files; records behind Kafka), open files, errors, dead letters.

    Without HOST:PORT, every `shipper run` and `shipper index` process on this machine is found
    (again every few seconds). q or Ctrl-C quits.
    """
    from shipper.top.live import Scraper, run_once, run_top

    scraper = Scraper(targets)
    live = not once and out_console.is_terminal  # a pipe or a file gets one table, not a redraw
    asyncio.run((run_top if live else run_once)(scraper, interval_s, out_console))
