"""`shipper setup`: install the index templates, ILM policies and the Kafka topic, idempotently."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.table import Table

from shipper.cli.index import ENV_HELP, indexer_config, indexer_options
from shipper.cli.output import out_console, progress
from shipper.indexer.config import IndexerConfig

__all__ = ["setup"]

_COLOURS = {
    "created": "green",
    "updated": "yellow",
    "unchanged": "dim",
    "would create": "cyan",
    "would update": "cyan",
    "lacking": "magenta",
}


@click.command(epilog=ENV_HELP)
@indexer_options()
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--skip-kafka", is_flag=True, help="Leave the Kafka topic alone.")
@click.option("--skip-elasticsearch", is_flag=True, help="Leave Elasticsearch alone.")
def setup(
    config_path: Path | None,
    es_url: str | None,
    kafka_url: str | None,
    dry_run: bool,
    skip_kafka: bool,
    skip_elasticsearch: bool,
) -> None:
    """Install what the pipeline needs; a second run changes nothing and says so.

    Elasticsearch: the component templates (settings; ECS mappings from index-templates/), the
    index templates of the daily and dead-letter indices and, where the cluster has ILM, the
    retention policies. What the cluster lacks (ILM, mapping types) is reported with what is
    done instead. Kafka: the topic, with its partitions, retention.ms and max.message.bytes
    (an existing topic is described, never altered).
    """
    config = indexer_config(config_path, es_url=es_url, kafka_url=kafka_url)
    asyncio.run(_setup(config, dry_run, not skip_elasticsearch, not skip_kafka))


async def _setup(config: IndexerConfig, dry_run: bool, elasticsearch: bool, kafka: bool) -> None:
    from shipper.indexer.es import build_client
    from shipper.indexer.setup import SetupStep, setup_elasticsearch, setup_kafka

    steps: list[SetupStep] = []
    if elasticsearch:
        progress(
            f"Elasticsearch at {config.elasticsearch.url}: probing features, checking templates"
        )
        es = build_client(config.elasticsearch, timeout_s=30)
        try:
            steps += await setup_elasticsearch(es, config, dry_run=dry_run)
        finally:
            await es.close()
    if kafka:
        progress(f"Kafka at {config.kafka.bootstrap}: checking topic {config.kafka.topic}")
        steps += await setup_kafka(config.kafka, dry_run=dry_run)

    table = Table(title="shipper setup" + (" (dry run)" if dry_run else ""))
    for column in ("what", "status", "detail"):
        table.add_column(column)
    for step in steps:
        colour = _COLOURS.get(step.status, "white")
        table.add_row(step.what, f"[{colour}]{step.status}[/]", step.detail)
    out_console.print(table)
    changed = [s for s in steps if s.changed]
    pending = [s for s in steps if s.status.startswith("would")]
    if dry_run:
        out_console.print(
            f"dry run: {len(pending)} change(s) would be made"
            if pending
            else "dry run: nothing to change, everything is already there"
        )
    elif changed:
        out_console.print(f"{len(changed)} change(s) made")
    else:
        out_console.print("nothing changed: everything was already there")
