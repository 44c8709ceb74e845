"""The boundary to Kafka: the group consumer (manual commits) and its rebalance callbacks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from shipper.errors import RefusedError
from shipper.indexer.config import KafkaInputConfig
from shipper.sinks.kafka_errors import diagnose

__all__ = ["RebalanceHandler", "build_consumer", "kafka_reachable"]

PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class RebalanceHandler(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands aiokafka's rebalance callbacks to the indexer (revoked: commit what is settled)."""

    def __init__(self, on_revoked: PartitionsCallback, on_assigned: PartitionsCallback) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._on_assigned(set(assigned))


class _Consumer(AIOKafkaConsumer):  # type: ignore[misc]
    """aiokafka's consumer whose start says why it failed: a mistake no retry mends (refused SASL
    credentials, an untrusted or expired certificate) raises RefusedError, not a KafkaError."""

    def __init__(self, config: KafkaInputConfig, **options: Any) -> None:
        super().__init__(**options)
        self._logferry_config = config

    async def start(self) -> None:
        try:
            await super().start()
        except (KafkaError, OSError) as exc:
            config = self._logferry_config
            failure = await diagnose(exc, config.bootstrap, config.client_options())
            if not failure.refused:
                raise
            with contextlib.suppress(Exception):
                await self.stop()
            raise RefusedError(f"Kafka at {config.bootstrap}: {failure.reason}") from exc


def build_consumer(config: KafkaInputConfig, listener: RebalanceHandler) -> AIOKafkaConsumer:
    """A group member subscribed to the topic; offsets are committed only by the indexer."""
    consumer = _Consumer(
        config,
        bootstrap_servers=config.bootstrap,
        group_id=config.group_id,
        client_id="logferry-indexer",
        enable_auto_commit=False,
        auto_offset_reset=config.auto_offset_reset,
        session_timeout_ms=config.session_timeout_ms,
        heartbeat_interval_ms=config.heartbeat_interval_ms,
        max_poll_interval_ms=config.max_poll_interval_ms,
        fetch_max_bytes=config.fetch_max_bytes,
        max_partition_fetch_bytes=config.max_partition_fetch_bytes,
        request_timeout_ms=config.request_timeout_ms,
        **config.client_options(),
    )
    consumer.subscribe([config.topic], listener=listener)
    return consumer


async def kafka_reachable(config: KafkaInputConfig, timeout_s: float = 5.0) -> bool:
    """Do the brokers answer (a metadata request), before a consumer is started?"""
    client = AIOKafkaClient(
        bootstrap_servers=config.bootstrap,
        client_id="logferry-indexer-probe",
        request_timeout_ms=int(timeout_s * 1000),
        **config.client_options(),
    )
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()
    return True
