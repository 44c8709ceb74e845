"""The Kafka topic of the events: its settings, defined once, and the one function that creates it.

The shipper's Kafka output (with ``create_topic``) and ``shipper setup`` both create the topic
with :func:`ensure_topic`, from the same :class:`KafkaTopicConfig` fields (``topic_*``, inherited
by the output's and the indexer's Kafka settings). An existing topic is described, never altered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import BaseModel, ConfigDict, Field

from shipper.errors import KafkaAdminError
from shipper.sinks.kafka_errors import diagnose

__all__ = ["KafkaTopicConfig", "TopicState", "ensure_topic"]

_MIB = 1024 * 1024


class KafkaTopicConfig(BaseModel):
    """How the topic is made when logferry creates it (`shipper setup`, or the shipper's Kafka
    output with `create_topic`)."""

    model_config = ConfigDict(extra="forbid")

    topic_partitions: int = Field(
        3,
        ge=1,
        description="Partitions of the topic logferry creates (most indexers that help).",
    )
    topic_replication_factor: int | None = Field(
        None,
        ge=1,
        description="Replication of the topic logferry creates; unset = as many brokers as the "
        "cluster has, at most 3.",
    )
    topic_min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="min.insync.replicas of the topic logferry creates: how many copies acks=all "
        "waits for; unset = 2 with 3+ replicas, else 1 (one broker down keeps the topic writable).",
    )
    topic_retention_ms: int = Field(
        7 * 24 * 3600 * 1000,
        ge=60_000,
        description="retention.ms of the topic logferry creates: the longest Elasticsearch outage "
        "that loses nothing.",
    )
    topic_max_message_bytes: int = Field(
        8 * _MIB,
        ge=_MIB,
        description="max.message.bytes of the topic logferry creates (the shipper raises it to "
        "its output's max_request_bytes when that is larger).",
    )

    def replication_for(self, brokers: int) -> tuple[int, int]:
        """(replication factor, min.insync.replicas) of a topic created on *brokers* brokers."""
        replication = self.topic_replication_factor or min(brokers, 3)
        min_insync = self.topic_min_insync_replicas or (2 if replication >= 3 else 1)
        return replication, min_insync

    def topic_summary(self, brokers: int) -> str:
        """What a created topic gets on *brokers* brokers, as `shipper setup` reports it."""
        replication, min_insync = self.replication_for(brokers)
        return (
            f"{self.topic_partitions} partitions, replication {replication}, "
            f"min.insync.replicas={min_insync}, retention.ms={self.topic_retention_ms}, "
            f"max.message.bytes={self.topic_max_message_bytes}"
        )


@dataclass(frozen=True)
class TopicState:
    """What :func:`ensure_topic` found or did, and the detail `shipper setup` shows."""

    status: Literal["created", "exists", "would create"]
    detail: str


async def ensure_topic(
    bootstrap: str,
    topic: str,
    settings: KafkaTopicConfig,
    client_options: dict[str, Any],
    *,
    dry_run: bool = False,
) -> TopicState:
    """Create *topic* with *settings* if it does not exist; describe it if it does.

    Raises :class:`~shipper.errors.KafkaAdminError` when Kafka is unreachable or refuses.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    try:
        await admin.start()
    except (KafkaError, OSError) as exc:
        await admin.close()
        failure = await diagnose(exc, bootstrap, client_options)
        where = f"Kafka at {bootstrap}" if failure.refused else f"Kafka at {bootstrap} unreachable"
        raise KafkaAdminError(f"{where}: {failure.reason}") from exc
    try:
        existing = await admin.describe_topics([topic])
        if existing and existing[0]["error_code"] == 0:
            return TopicState("exists", await _describe(admin, topic, settings, existing[0]))
        brokers = len((await admin.describe_cluster())["brokers"])
        wanted = settings.topic_summary(brokers)
        if dry_run:
            return TopicState("would create", wanted)
        replication, min_insync = settings.replication_for(brokers)
        new = NewTopic(
            topic,
            num_partitions=settings.topic_partitions,
            replication_factor=replication,
            topic_configs={
                "retention.ms": str(settings.topic_retention_ms),
                "max.message.bytes": str(settings.topic_max_message_bytes),
                "min.insync.replicas": str(min_insync),
            },
        )
        try:
            await admin.create_topics([new])
        except TopicAlreadyExistsError:  # created meanwhile by someone else
            return TopicState("exists", "created concurrently by another client")
        return TopicState("created", wanted)
    except KafkaError as exc:
        raise KafkaAdminError(f"Kafka: setting up topic {topic} failed: {exc!r}") from exc
    finally:
        await admin.close()


async def _describe(
    admin: AIOKafkaAdminClient,
    topic: str,
    settings: KafkaTopicConfig,
    described: dict[str, object],
) -> str:
    partitions = described.get("partitions")
    count = len(partitions) if isinstance(partitions, list) else 0
    configs: dict[str, str] = {}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    for entry in responses[0].resources[0][4]:
        configs[entry[0]] = entry[1]
    retention = configs.get("retention.ms", "?")
    detail = f"{count} partitions, retention.ms={retention}"
    notes = []
    if count != settings.topic_partitions:
        notes.append(f"config asks {settings.topic_partitions} partitions")
    if retention != str(settings.topic_retention_ms):
        notes.append(f"config asks retention.ms={settings.topic_retention_ms}")
    if notes:
        detail += f" ({'; '.join(notes)}: an existing topic is not altered)"
    return detail
