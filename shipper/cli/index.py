"""`shipper index` and `shipper retention`, and the options every indexer-side command shares."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table

from shipper.cli.output import out_console, progress
from shipper.commandline import (
    Flag,
    env_epilog,
    flag,
    given_settings,
    model_from_options,
    model_options,
)
from shipper.indexer.config import ENV_PREFIX, IndexerConfig

__all__ = ["ES_FLAG", "KAFKA_FLAG", "index", "indexer_config", "indexer_options", "retention"]

_RETENTION_SECTIONS = ("elasticsearch", "index", "retention")

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_ENVVAR = "INDEXER_CONFIG"
ES_FLAG = flag("elasticsearch.url", "--es")
KAFKA_FLAG = flag("kafka.url", "--kafka")


def indexer_options(*flags: str | Flag) -> Callable[[F], F]:
    """--config and the flags of *flags* (settings of :class:`IndexerConfig`)."""
    return model_options(IndexerConfig, ENV_PREFIX, flags=flags, config_envvar=CONFIG_ENVVAR)


def indexer_config(values: dict[str, Any], **extra: Any) -> IndexerConfig:
    """The effective config: file, then INDEXER_* variables, then the flags given, then *extra*
    (dotted keys)."""
    return model_from_options(IndexerConfig, values, extra=extra)


@click.command(epilog=env_epilog(IndexerConfig, ENV_PREFIX))
@indexer_options(
    ES_FLAG, KAFKA_FLAG, flag("kafka.group_id", "--group"), "metrics_addr", "log_level"
)
def index(**values: Any) -> None:
    """Consume the shipper's topic and bulk-write each event into its daily Elasticsearch index.

    Offsets are committed only once every record before them is in Elasticsearch (created,
    already there, or in the dead-letter index), so a crash or a rebalance re-reads at most
    what was not settled, and `_id = event.id` makes the re-read harmless. Start more indexers
    with the same --group to share the partitions. While Elasticsearch is down, consumption
    pauses and resumes by itself. SIGTERM/SIGINT finish the in-flight bulks, commit and exit 0.
    """
    from shipper.indexer.runner import Indexer
    from shipper.logs import configure_logging

    config = indexer_config(values)
    configure_logging(config.log_level)
    if config.log_level != "debug":
        # The client logs every request, and each outage twice; the indexer reports both itself.
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    raise SystemExit(asyncio.run(Indexer(config).run()))


@click.command(epilog=env_epilog(IndexerConfig, ENV_PREFIX, _RETENTION_SECTIONS))
@indexer_options(
    ES_FLAG,
    flag(
        "retention.days",
        "--days",
        type=click.IntRange(min=1),
        help="Keep this many days (overrides retention.days and retention.deadletter_days).",
    ),
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def retention(dry_run: bool, **values: Any) -> None:
    """Delete the daily indices whose day (from the name) is more than --days ago.

    Only indices whose whole name is of the configured pattern (logs and dead letters) are
    considered; today's and future days are never deleted. Works on clusters without ILM;
    `shipper index` runs the same sweep every retention.interval_s.
    """
    days = given_settings(values).get("retention", {}).get("days")
    extra = {} if days is None else {"retention.deadletter_days": days}
    config = indexer_config(values, **extra)
    asyncio.run(_retention(config, dry_run))


async def _retention(config: IndexerConfig, dry_run: bool) -> None:
    from shipper.indexer.es import build_client
    from shipper.indexer.retention import Expired, sweep

    def deleted(expired: Expired) -> None:
        progress(f"deleted {expired.index} ({expired.kind}, {expired.age_days} days old)")

    progress(
        f"{'dry run: ' if dry_run else ''}looking for indices of {config.index.route_glob()} and "
        f"{config.index.deadletter_index_glob()} older than {config.retention.days} days "
        f"(dead letters: {config.retention.effective_deadletter_days}) in {config.elasticsearch.url}"
    )
    es = build_client(config.elasticsearch, timeout_s=60)
    try:
        plan = await sweep(es, config.index, config.retention, dry_run=dry_run, on_delete=deleted)
    finally:
        await es.close()
    if plan.expired:
        table = Table(title="would delete" if dry_run else "deleted")
        for column in ("index", "kind", "day", "age (days)"):
            table.add_column(column)
        for expired in plan.expired:
            table.add_row(
                expired.index, expired.kind, expired.day.isoformat(), str(expired.age_days)
            )
        out_console.print(table)
    verb = "would delete" if dry_run else "deleted"
    out_console.print(f"{verb} {len(plan.expired)} index(es); kept {plan.kept} within retention")
