"""`shipper index` and `shipper retention`, and the options every indexer-side command shares."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from shipper.cli.output import out_console, progress
from shipper.config import env_names
from shipper.indexer.config import ENV_PREFIX, IndexerConfig, load_indexer_config

__all__ = ["ENV_HELP", "index", "indexer_config", "indexer_options", "retention"]

F = TypeVar("F", bound=Callable[..., Any])

ENV_HELP = (
    "Every setting can also be set in the YAML file or by an environment variable: "
    + ", ".join(sorted(env_names(IndexerConfig, ENV_PREFIX)))
    + ". Flags override environment variables, which override the file."
)


def indexer_options(*, kafka: bool = True) -> Callable[[F], F]:
    """--config, --es (and --kafka): where the indexer-side commands find their config and services."""

    def decorate(func: F) -> F:
        options = [
            click.option(
                "--config",
                "config_path",
                type=click.Path(path_type=Path, dir_okay=False),
                envvar="INDEXER_CONFIG",
                show_envvar=True,
                help="YAML config file of the indexer (${VAR} and ${VAR:-default} are interpolated).",
            ),
            click.option(
                "--es",
                "es_url",
                help="Elasticsearch URL(s), comma-separated. [default: http://127.0.0.1:9200]",
            ),
        ]
        if kafka:
            options.append(
                click.option(
                    "--kafka",
                    "kafka_url",
                    help="kafka://HOST:PORT[,HOST:PORT]/TOPIC. [default: kafka://127.0.0.1:9092/app-logs]",
                )
            )
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def indexer_config(
    config_path: Path | None,
    *,
    es_url: str | None = None,
    kafka_url: str | None = None,
    extra: dict[str, Any] | None = None,
) -> IndexerConfig:
    """The effective config: file, then INDEXER_* variables, then these flags."""
    overrides: dict[str, Any] = dict(extra or {})
    if es_url:
        overrides.setdefault("elasticsearch", {})["url"] = es_url
    if kafka_url:
        overrides.setdefault("kafka", {})["url"] = kafka_url
    return load_indexer_config(config_path, overrides)


@click.command(epilog=ENV_HELP)
@indexer_options()
@click.option("--group", help="Consumer group id. [default: logferry-indexer]")
@click.option(
    "--metrics-addr", help="HOST:PORT for /metrics, /healthz, /readyz. [default: 127.0.0.1:9109]"
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Own log level. [default: info]",
)
def index(
    config_path: Path | None,
    es_url: str | None,
    kafka_url: str | None,
    group: str | None,
    metrics_addr: str | None,
    log_level: str | None,
) -> None:
    """Consume the shipper's topic and bulk-write each event into its daily Elasticsearch index.

    Offsets are committed only once every record before them is in Elasticsearch (created,
    already there, or in the dead-letter index), so a crash or a rebalance re-reads at most
    what was not settled, and `_id = event.id` makes the re-read harmless. Start more indexers
    with the same --group to share the partitions. While Elasticsearch is down, consumption
    pauses and resumes by itself. SIGTERM/SIGINT finish the in-flight bulks, commit and exit 0.
    """
    from shipper.indexer.runner import Indexer
    from shipper.logs import configure_logging

    extra: dict[str, Any] = {}
    if group:
        extra["kafka"] = {"group_id": group}
    if metrics_addr:
        extra["metrics_addr"] = metrics_addr
    if log_level:
        extra["log_level"] = log_level
    config = indexer_config(config_path, es_url=es_url, kafka_url=kafka_url, extra=extra)
    configure_logging(config.log_level)
    if config.log_level != "debug":
        # The client logs every request, and each outage twice; the indexer reports both itself.
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    raise SystemExit(asyncio.run(Indexer(config).run()))


@click.command(epilog=ENV_HELP)
@indexer_options(kafka=False)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Keep this many days (overrides retention.days and retention.deadletter_days). [default: 30]",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def retention(
    config_path: Path | None, es_url: str | None, days: int | None, dry_run: bool
) -> None:
    """Delete the daily indices whose day (from the name) is more than --days ago.

    Only indices whose whole name is of the configured pattern (logs and dead letters) are
    considered; today's and future days are never deleted. Works on clusters without ILM;
    `shipper index` runs the same sweep every retention.interval_s.
    """
    extra: dict[str, Any] = {}
    if days is not None:
        extra["retention"] = {"days": days, "deadletter_days": days}
    config = indexer_config(config_path, es_url=es_url, extra=extra)
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
