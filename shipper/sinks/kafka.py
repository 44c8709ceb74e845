"""The Kafka sink: aiokafka with acks=all and the idempotent producer, one batch per partition.

Records are partitioned by key with xxh3 (``partition_for``), not with the Java client's murmur2
that aiokafka reimplements in pure Python: that cost ~6 µs an event, a seventh of the shipper's
CPU. Nothing downstream depends on which partition a key lands in, only that a key always lands
in the same one (per-key order), which any stable hash gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.codec import has_lz4, has_zstd
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from xxhash import xxh3_64_intdigest

from shipper.errors import KafkaAdminError
from shipper.sinks.base import OutgoingEvent, SinkError, SinkRefused
from shipper.sinks.compression import LEVELS, use_level
from shipper.sinks.headers import EVENT_ID_HEADER, SCHEMA_HEADER
from shipper.sinks.kafka_errors import diagnose
from shipper.sinks.topic import KafkaTopicConfig, ensure_topic

__all__ = [
    "SCHEMA_VERSION",
    "KafkaSecurityConfig",
    "KafkaSink",
    "KafkaSinkConfig",
    "partition_for",
]

SCHEMA_VERSION = b"1"
"""Sent in the ``logferry-schema`` header; the indexer refuses versions it does not know."""


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition of *key*: the same for the same key and partition list, in any process."""
    return partitions[xxh3_64_intdigest(key) % len(partitions)]


class KafkaSecurityConfig(BaseModel):
    """How a Kafka client connects and authenticates (the shipper's producer, the indexer's consumer)."""

    model_config = ConfigDict(extra="forbid")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to talk to the brokers."
    )
    ssl_cafile: str | None = Field(
        None, description="CA bundle to verify the brokers (SSL, SASL_SSL)."
    )
    ssl_certfile: str | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: str | None = Field(None, description="Key of the client certificate.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (SASL_PLAINTEXT, SASL_SSL)."
    )
    sasl_username: str | None = Field(None, description="SASL user.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password (masked in check-config)."
    )

    def client_options(self) -> dict[str, Any]:
        """Connection options shared by the producer and the admin client."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            options["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options


class KafkaSinkConfig(KafkaTopicConfig, KafkaSecurityConfig):
    """Producer settings of the Kafka output (the URL gives brokers and topic), and how the topic
    is made when `create_topic` is set."""

    model_config = ConfigDict(extra="forbid")

    compression: Literal["auto", "zstd", "lz4", "gzip", "none"] = Field(
        "auto", description="Batch compression; auto = zstd where available, else lz4, else gzip."
    )
    compression_level: int | None = Field(
        None,
        description=(
            "Level of the `compression` codec (set one explicitly to give a level): lz4 1-12, "
            "zstd 1-22, gzip 1-9. Unset: lz4 1 (its fast mode, as librdkafka), zstd 3 and "
            "gzip 6 (Kafka's defaults)."
        ),
    )
    linger_ms: int = Field(5, ge=0, description="How long the producer waits to fill a batch.")
    max_batch_bytes: int = Field(
        1024 * 1024, ge=16 * 1024, description="Largest record batch per partition."
    )
    max_request_bytes: int = Field(
        8 * 1024 * 1024, description="Largest produce request (and event)."
    )
    request_timeout_ms: int = Field(
        30_000, ge=1000, description="How long to wait for an acknowledgement."
    )
    create_topic: bool = Field(
        False, description="Create the topic at start when it does not exist (topic_* settings)."
    )

    @model_validator(mode="after")
    def _level_fits_the_codec(self) -> KafkaSinkConfig:
        level = self.compression_level
        if level is None:
            return self
        if self.compression not in LEVELS:
            raise ValueError(
                f"compression_level needs an explicit compression (lz4, zstd or gzip), "
                f"not {self.compression!r}"
            )
        levels = LEVELS[self.compression]
        if level not in levels:
            raise ValueError(
                f"compression_level: {self.compression} takes {levels.start}-{levels.stop - 1}, "
                f"not {level}"
            )
        return self

    def compression_type(self) -> str | None:
        """The codec to use, resolving `auto` against what is installed."""
        if self.compression == "none":
            return None
        if self.compression != "auto":
            return self.compression
        return "zstd" if has_zstd() else "lz4" if has_lz4() else "gzip"


class KafkaSink:
    """Publishes each batch as one record batch per partition and waits for acks=all on all of them."""

    def __init__(self, bootstrap: str, topic: str, config: KafkaSinkConfig) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.config = config
        self.name = f"kafka://{bootstrap}/{topic}"
        self._producer: AIOKafkaProducer | None = None
        self._partitions: list[int] = []
        self._healthy = False
        self._enqueue_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect (creating the topic first when configured to); concurrent callers share one producer."""
        async with self._start_lock:
            if self._producer is None:
                await self._connect()

    async def _connect(self) -> None:
        config = self.config
        use_level(config.compression_type(), config.compression_level)
        if config.create_topic:
            await self._create_topic()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            compression_type=config.compression_type(),
            linger_ms=config.linger_ms,
            max_batch_size=config.max_batch_bytes,
            max_request_size=config.max_request_bytes,
            request_timeout_ms=config.request_timeout_ms,
            **config.client_options(),
        )
        try:
            await producer.start()
            partitions = await producer.partitions_for(self.topic)
        except (KafkaError, OSError) as exc:
            self._healthy = False
            with contextlib.suppress(KafkaError, OSError):
                await producer.stop()
            failure = await diagnose(exc, self.bootstrap, config.client_options())
            if failure.refused:
                raise SinkRefused(f"{self.name}: {failure.reason}") from exc
            raise SinkError(
                f"{self.name}: cannot publish to topic {self.topic!r}: {failure.reason}"
            ) from exc
        self._producer, self._partitions = producer, sorted(partitions)
        self._healthy = True

    async def _create_topic(self) -> None:
        # A topic whose max.message.bytes is below the producer's largest request refuses batches.
        settings = self.config.model_copy(
            update={
                "topic_max_message_bytes": max(
                    self.config.topic_max_message_bytes, self.config.max_request_bytes
                )
            }
        )
        try:
            await ensure_topic(self.bootstrap, self.topic, settings, self.config.client_options())
        except (KafkaAdminError, OSError) as exc:  # OSError: the TLS files of client_options
            raise SinkError(f"{self.name}: cannot create the topic: {exc}") from exc

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        """Send *events* partitioned by key; return when every partition's batch is acknowledged."""
        if self._producer is None:
            await self.start()
        producer = self._producer
        if producer is None:  # replaced concurrently after a failure: let the runner retry
            raise SinkError(f"{self.name}: reconnecting")
        by_partition: dict[int, list[OutgoingEvent]] = defaultdict(list)
        partitions = self._partitions
        for event in events:
            by_partition[partition_for(event.key, partitions)].append(event)
        try:
            futures = []
            # Batches in flight together must reach the accumulator in the order they were read,
            # or a file's (and a trace's) events would interleave out of order in the partition.
            async with self._enqueue_lock:
                for partition, members in by_partition.items():
                    batch = producer.create_batch()
                    for event in members:
                        if not self._append(batch, event):  # full: send it, start the next one
                            futures.append(
                                await producer.send_batch(batch, self.topic, partition=partition)
                            )
                            batch = producer.create_batch()
                            self._append(batch, event)
                    futures.append(
                        await producer.send_batch(batch, self.topic, partition=partition)
                    )
            # A future of a producer stopped under it may never resolve: bound the wait.
            timeout_s = 2 * self.config.request_timeout_ms / 1000
            await asyncio.wait_for(asyncio.gather(*futures), timeout=timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            self._healthy = False
            await self._discard(producer)
            raise SinkError(f"{self.name}: publish failed: {exc!r}") from exc
        self._healthy = True

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        """Drop a producer whose batch failed; the next publish connects a fresh one.

        A failed batch leaves a gap in the idempotent producer's sequence numbers, and aiokafka
        does not reset its producer id: every later batch would be refused with
        OutOfOrderSequenceNumber. A new producer gets a new id. Batches it resends may already
        be in Kafka once: duplicates with the same event.id, which the indexer writes only once.
        """
        async with self._start_lock:
            current = self._producer is producer  # else another failed batch replaced it already
            if current:
                self._producer = None
        if not current:
            return
        # stop() flushes what is pending and may wait for a broker that is down: bound it.
        with contextlib.suppress(KafkaError, OSError, TimeoutError):
            await asyncio.wait_for(producer.stop(), timeout=5)

    @staticmethod
    def _append(batch: Any, event: OutgoingEvent) -> bool:
        headers = [
            (EVENT_ID_HEADER, event.event_id.encode()),
            (SCHEMA_HEADER, SCHEMA_VERSION),
            *event.headers,
        ]
        # Record time is the publish time (None), not the event's: topic retention must not
        # delete a replayed month-old line before the indexer has read it.
        appended = batch.append(key=event.key, value=event.value, timestamp=None, headers=headers)
        return appended is not None

    async def close(self) -> None:
        """Flush pending batches and disconnect."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            # What was not acknowledged is re-read from the checkpoint on the next start.
            with contextlib.suppress(KafkaError):
                await producer.stop()

    @property
    def healthy(self) -> bool:
        return self._healthy
