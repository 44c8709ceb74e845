"""The table `shipper top` draws."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from shipper.top.sample import Row

__all__ = ["table_of"]


def table_of(rows: Sequence[Row], *, interval_s: float, live: bool) -> Table:
    """The rows as a table; its caption says how to leave a live view."""
    shippers = sum(row.kind == "shipper" for row in rows)
    indexers = sum(row.kind == "indexer" for row in rows)
    table = Table(
        title=f"logferry top: {shippers} shipper(s), {indexers} indexer(s)",
        caption=f"every {interval_s:g} s; q or Ctrl-C quits" if live else None,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("kind")
    table.add_column("metrics at")
    table.add_column("status")
    for name in ("in/s", "out/s", "lag", "open files", "errors", "dead letters"):
        table.add_column(name, justify="right")
    for row in rows:
        status = f"[green]{row.status}[/]" if row.status == "up" else f"[red]{row.status}[/]"
        table.add_row(
            row.kind,
            row.address,
            status,
            _number(row.in_per_s),
            _number(row.out_per_s),
            _lag(row),
            _count(row.open_files, warn=False),
            _count(row.errors),
            _count(row.dead_letters),
        )
    if not rows:
        table.add_row("-", "no shipper or indexer found", "", *([""] * 6))
    return table


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def _count(value: float | None, *, warn: bool = True) -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}"
    return f"[red]{text}[/]" if value and warn else text


def _lag(row: Row) -> str:
    if row.lag is None:
        return "-"
    if row.kind == "indexer":
        return f"{row.lag:,.0f} rec"
    size = row.lag
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "-"  # not reached: the loop returns at GiB
