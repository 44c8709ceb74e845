"""The topic settings are defined once: the shipper's output and the indexer read the same model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shipper.indexer.config import KafkaInputConfig
from shipper.sinks.kafka import KafkaSinkConfig
from shipper.sinks.topic import KafkaTopicConfig


@pytest.mark.parametrize("model", [KafkaSinkConfig, KafkaInputConfig])
def test_both_kafka_configs_take_the_topic_settings_from_one_model(model: type) -> None:
    assert issubclass(model, KafkaTopicConfig)
    for name in ("topic_partitions", "topic_replication_factor", "topic_retention_ms"):
        assert repr(model.model_fields[name]) == repr(KafkaTopicConfig.model_fields[name])
    assert "topic_max_message_bytes" in model.model_fields


@pytest.mark.parametrize("model", [KafkaSinkConfig, KafkaInputConfig])
def test_the_topic_settings_are_validated_alike(model: type) -> None:
    with pytest.raises(ValidationError, match="topic_retention_ms"):
        model(topic_retention_ms=1000)
    with pytest.raises(ValidationError, match="topic_partitions"):
        model(topic_partitions=0)


def test_the_summary_is_what_setup_reports() -> None:
    config = KafkaTopicConfig(topic_partitions=2, topic_retention_ms=3_600_000)
    assert config.topic_summary(1) == (
        "2 partitions, replication 1, min.insync.replicas=1, retention.ms=3600000, "
        "max.message.bytes=8388608"
    )


@pytest.mark.parametrize(
    ("brokers", "asked", "expected"),
    [
        (1, {}, (1, 1)),
        (2, {}, (2, 1)),
        (3, {}, (3, 2)),
        (5, {}, (3, 2)),
        (3, {"topic_replication_factor": 2}, (2, 1)),
        (3, {"topic_min_insync_replicas": 3}, (3, 3)),
    ],
)
def test_replication_follows_the_cluster_unless_set(
    brokers: int, asked: dict[str, int], expected: tuple[int, int]
) -> None:
    assert KafkaTopicConfig(**asked).replication_for(brokers) == expected
