"""`shipper search` and `shipper trace`: read the daily indices from the terminal."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import orjson
from rich.table import Table
from rich.text import Text

from shipper.cli.index import ES_FLAG, indexer_config, indexer_options
from shipper.cli.output import out_console, printable, progress
from shipper.commandline import env_epilog
from shipper.indexer.config import ENV_PREFIX, IndexerConfig
from shipper.indexer.search import SearchRequest, row_of, search_request, trace_request

__all__ = ["search", "trace"]

_SECTIONS = (
    "elasticsearch",
    "index.index_pattern",
    "index.default_service",
    "index.deadletter_pattern",
)
"""What search and trace read: the cluster, and the names of the indices to search (and skip)."""

_LEVEL_STYLES = {
    "debug": "dim",
    "info": "green",
    "warning": "yellow",
    "error": "red",
    "critical": "bold red",
}


@click.command(epilog=env_epilog(IndexerConfig, ENV_PREFIX, _SECTIONS))
@click.argument("query", default="*")
@indexer_options(ES_FLAG)
@click.option("--since", default="15m", help="How far back: 30s, 15m, 2h, 7d, 1w, or 'all'.")
@click.option("--service", help="Only this service's indices.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, help="Most events shown.")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON document per line instead of a table."
)
def search(
    query: str, since: str, service: str | None, limit: int, as_json: bool, **values: Any
) -> None:
    """Search the daily indices with a Lucene query string, newest first.

    Bare words search message and the error fields; name fields for the rest:
    `log.level:error AND url.path:"/checkout"`, `http.response.status_code:>=500`, `app.order_id:42`.
    """
    config = indexer_config(values)
    request = search_request(query, config.index, since=since, service=service, limit=limit)
    asyncio.run(_show(config, request, as_json, f"{query!r} since {since}"))


@click.command(epilog=env_epilog(IndexerConfig, ENV_PREFIX, _SECTIONS))
@click.argument("correlation_id")
@indexer_options(ES_FLAG)
@click.option("--since", default="all", help="How far back: 30s, 15m, 2h, 7d, 1w, or 'all'.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=1000, help="Most events shown.")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON document per line instead of a table."
)
def trace(correlation_id: str, since: str, limit: int, as_json: bool, **values: Any) -> None:
    """Every event of one correlation ID (trace.id, transaction.id or http.request.id), in time order, across services."""
    config = indexer_config(values)
    request = trace_request(correlation_id, config.index, since=since, limit=limit)
    asyncio.run(
        _show(
            config,
            request,
            as_json,
            f"events of {correlation_id!r}",
            newest_first=False,
            stack_traces=True,
        )
    )


async def _show(
    config: IndexerConfig,
    request: SearchRequest,
    as_json: bool,
    title: str,
    *,
    newest_first: bool = True,
    stack_traces: bool = False,
) -> None:
    from shipper.indexer.es import build_client, call

    es = build_client(config.elasticsearch, timeout_s=30)
    try:
        response = await call(
            "searching",
            es.search(
                index=request.index,
                body=request.body,
                ignore_unavailable=True,
                allow_no_indices=True,
            ),
        )
    finally:
        await es.close()
    hits: list[dict[str, Any]] = response["hits"]["hits"]
    total = response["hits"]["total"]["value"]
    if as_json:
        for hit in hits:
            click.echo(orjson.dumps(hit["_source"]).decode())
        progress(f"{len(hits)} of {total} event(s)")
        return
    # Every cell is the data's own text, never rich markup, with control characters escaped:
    # a log line must not retitle or clear the terminal (ESC ] 0 ;, ESC [ 2 J).
    table = Table(
        title=Text(
            printable(
                f"{title}: {len(hits)} of {total} ({'newest' if newest_first else 'oldest'} first)"
            )
        )
    )
    table.add_column("time", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("service", no_wrap=True)
    table.add_column("trace / request id", no_wrap=True)  # the first of CORRELATION_FIELDS
    table.add_column("message", overflow="fold")
    for hit in hits:
        row = row_of(hit["_source"])
        table.add_row(
            Text(printable(row.time)),
            Text(printable(row.level), style=_LEVEL_STYLES.get(row.level, "")),
            Text(printable(row.service)),
            Text(printable(row.trace_id)),
            _message(row.message, row.stack_trace if stack_traces else ""),
        )
    out_console.print(table)


def _message(message: str, stack_trace: str) -> Text:
    """The message; under it, in a trace, the stack trace of a failed request's line."""
    text = Text(printable(message))
    if stack_trace:
        text.append("\n" + printable(stack_trace, newlines=True), style="dim")
    return text
