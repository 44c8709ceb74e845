"""`shipper setup`: install the index templates, ILM policies, the Kafka topic and (with --kibana)
the Kibana saved objects, idempotently."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from shipper.cli.index import ES_FLAG, KAFKA_FLAG, indexer_config, indexer_options
from shipper.cli.output import out_console, progress
from shipper.commandline import env_epilog, flag
from shipper.indexer.config import ENV_PREFIX, IndexerConfig
from shipper.masking import mask_urls

if TYPE_CHECKING:  # the runtime import waits for the command to run: `shipper --help` stays fast
    from shipper.indexer.setup import SetupStep

__all__ = ["setup"]

_SECTIONS = ("elasticsearch", "kafka", "kibana", "index", "retention")
"""What setup reads: the cluster, the topic, Kibana, the index templates and ILM retention."""

_COLOURS = {
    "created": "green",
    "updated": "yellow",
    "unchanged": "dim",
    "would create": "cyan",
    "would update": "cyan",
    "lacking": "magenta",
}


@click.command(epilog=env_epilog(IndexerConfig, ENV_PREFIX, _SECTIONS))
@indexer_options(
    ES_FLAG,
    KAFKA_FLAG,
    flag("kibana.url", "--kibana", metavar="URL"),
    flag("kibana.username", "--kibana-username"),
    flag(
        "kibana.password",
        "--kibana-password",
        help="Kibana password (prefer INDEXER_KIBANA_PASSWORD: flags show in `ps`).",
    ),
)
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--skip-kafka", is_flag=True, help="Leave the Kafka topic alone.")
@click.option("--skip-elasticsearch", is_flag=True, help="Leave Elasticsearch alone.")
def setup(dry_run: bool, skip_kafka: bool, skip_elasticsearch: bool, **values: Any) -> None:
    """Install what the pipeline needs; a second run changes nothing and says so.

    Elasticsearch: the component templates (settings; ECS mappings from index-templates/), the
    index templates of the daily and dead-letter indices and, where the cluster has ILM, the
    retention policies. What the cluster lacks (ILM, mapping types) is reported with what is
    done instead. Kafka: the topic, with its partitions, retention.ms and max.message.bytes
    (an existing topic is described, never altered). Kibana, only with --kibana (or
    kibana.url): the data views, saved searches, visualizations and dashboard of
    dashboards/kibana/, imported with overwrite when Kibana does not hold them as the files say.
    """
    config = indexer_config(values)
    # aiokafka logs each failed connection at ERROR; setup says why it failed itself, once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(_setup(config, dry_run, not skip_elasticsearch, not skip_kafka))


async def _setup(config: IndexerConfig, dry_run: bool, elasticsearch: bool, kafka: bool) -> None:
    from shipper.errors import KibanaError
    from shipper.indexer.es import build_client
    from shipper.indexer.kibana import setup_kibana
    from shipper.indexer.setup import setup_elasticsearch, setup_kafka

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
    failure: KibanaError | None = None
    if config.kibana.url is not None:
        progress(f"Kibana at {config.kibana.url}: comparing and importing saved objects")
        try:
            steps.append(await setup_kibana(config.kibana, config.elasticsearch, dry_run=dry_run))
        except KibanaError as exc:
            # The steps before it did happen: show them, then fail with Kibana's one line.
            failure = exc

    if failure is None:
        _report(steps, dry_run)
        return
    if steps:
        _table(steps, dry_run)
    raise failure


def _report(steps: list[SetupStep], dry_run: bool) -> None:
    """The table of steps and a one-line verdict."""
    _table(steps, dry_run)
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


def _table(steps: list[SetupStep], dry_run: bool) -> None:
    """One row per step: what, its status (coloured), the detail."""
    table = Table(title="shipper setup" + (" (dry run)" if dry_run else ""))
    for column in ("what", "status", "detail"):
        table.add_column(column)
    for step in steps:
        colour = _COLOURS.get(step.status, "white")
        table.add_row(step.what, f"[{colour}]{step.status}[/]", mask_urls(step.detail))
    out_console.print(table)
