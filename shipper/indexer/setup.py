"""`shipper setup`: install, idempotently, what the pipeline needs in Elasticsearch and Kafka.

Each step reports what it did: ``created``, ``updated``, ``unchanged`` (already there),
``would create`` / ``would update`` (dry run), or ``lacking`` (the cluster cannot have it, and
what is done instead). A second run reports only ``unchanged`` and ``lacking`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError

from shipper.errors import ElasticsearchError
from shipper.indexer.config import IndexerConfig, KafkaInputConfig
from shipper.indexer.es import call, describe_error, detect_features
from shipper.indexer.templates import (
    CHECKSUM_KEY,
    ClusterFeatures,
    Installable,
    describe_fallbacks,
    render_all,
)
from shipper.sinks.topic import ensure_topic

__all__ = ["SetupStep", "install_templates", "setup_elasticsearch", "setup_kafka"]

Status = Literal["created", "updated", "unchanged", "would create", "would update", "lacking"]


@dataclass(frozen=True)
class SetupStep:
    """One line of the report."""

    what: str
    status: Status
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.status in ("created", "updated")


async def setup_elasticsearch(
    es: AsyncElasticsearch, config: IndexerConfig, *, dry_run: bool = False
) -> list[SetupStep]:
    """Detect what the cluster has, then install the ILM policies and templates that differ."""
    features = await detect_features(es)
    steps = lacking_steps(features, config)
    steps += await install_templates(es, config, features, dry_run=dry_run)
    return steps


def lacking_steps(features: ClusterFeatures, config: IndexerConfig) -> list[SetupStep]:
    """What the cluster lacks, and what is done instead."""
    steps: list[SetupStep] = []
    if not features.ilm:
        steps.append(
            SetupStep(
                "ILM",
                "lacking",
                "no ILM: the retention sweeper enforces retention "
                f"({config.retention.days} days; `shipper retention`, and `shipper index` every "
                f"{config.retention.interval_s:g}s)",
            )
        )
    steps += [
        SetupStep("mapping types", "lacking", line)
        for line in describe_fallbacks(features.missing_types)
    ]
    return steps


async def install_templates(
    es: AsyncElasticsearch,
    config: IndexerConfig,
    features: ClusterFeatures,
    *,
    dry_run: bool = False,
) -> list[SetupStep]:
    """Install every rendered object whose checksum differs from the installed one."""
    steps = []
    for item in render_all(config.index, config.retention, features):
        installed = await _installed_checksum(es, item)
        what = f"{item.kind} {item.name}"
        if installed == item.checksum:
            steps.append(SetupStep(what, "unchanged"))
            continue
        if dry_run:
            steps.append(SetupStep(what, "would create" if installed is None else "would update"))
            continue
        await _put(es, item)
        steps.append(SetupStep(what, "created" if installed is None else "updated"))
    return steps


async def _installed_checksum(es: AsyncElasticsearch, item: Installable) -> str | None:
    """The checksum of the installed object: None if absent, ``""`` if logferry did not write it."""
    try:
        meta = await _installed_meta(es, item)
    except NotFoundError:
        return None
    except (ApiError, TransportError) as exc:
        raise ElasticsearchError(
            f"Elasticsearch: reading {item.kind} {item.name} failed: {describe_error(exc)}"
        ) from exc
    value = meta.get(CHECKSUM_KEY, "")
    return value if isinstance(value, str) else ""


async def _installed_meta(es: AsyncElasticsearch, item: Installable) -> dict[str, Any]:
    if item.kind == "ILM policy":
        found = await es.ilm.get_lifecycle(name=item.name)
        meta = found[item.name]["policy"].get("_meta")
    elif item.kind == "component template":
        found = await es.cluster.get_component_template(name=item.name)
        meta = found["component_templates"][0]["component_template"].get("_meta")
    else:
        found = await es.indices.get_index_template(name=item.name)
        meta = found["index_templates"][0]["index_template"].get("_meta")
    return meta if isinstance(meta, dict) else {}


async def _put(es: AsyncElasticsearch, item: Installable) -> None:
    what = f"installing {item.kind} {item.name}"
    if item.kind == "ILM policy":
        await call(what, es.ilm.put_lifecycle(name=item.name, body=item.body))
    elif item.kind == "component template":
        await call(what, es.cluster.put_component_template(name=item.name, body=item.body))
    else:
        await call(what, es.indices.put_index_template(name=item.name, body=item.body))


async def setup_kafka(kafka: KafkaInputConfig, *, dry_run: bool = False) -> list[SetupStep]:
    """Create the topic if it does not exist; describe it if it does (an existing topic is not altered)."""
    state = await ensure_topic(
        kafka.bootstrap, kafka.topic, kafka, kafka.client_options(), dry_run=dry_run
    )
    status: Status = "unchanged" if state.status == "exists" else state.status
    return [SetupStep(f"Kafka topic {kafka.topic}", status, state.detail)]
