"""The Kafka sink against the real broker: keys keep their order in one partition each."""

from __future__ import annotations

import uuid
from collections import defaultdict

import orjson

from shipper.sinks import OutgoingEvent
from shipper.sinks.kafka import KafkaSink, KafkaSinkConfig, partition_for
from tests.integration.support import read_topic


async def test_each_key_lands_in_its_partition_in_publish_order(
    kafka_bootstrap: str, kafka_topic: str
) -> None:
    sink = KafkaSink(kafka_bootstrap, kafka_topic, KafkaSinkConfig())
    keys = [f"trace-{n:04d}".encode() for n in range(60)]
    published: dict[bytes, list[int]] = defaultdict(list)
    try:
        for batch_number in range(5):  # several batches: order must hold across them too
            events = []
            for sequence in range(batch_number * 20, batch_number * 20 + 20):
                for key in keys:
                    value = orjson.dumps({"key": key.decode(), "sequence": sequence})
                    events.append(
                        OutgoingEvent(value=value, key=key, event_id=f"{key!r}{sequence}")
                    )
                    published[key].append(sequence)
            await sink.publish(events)
    finally:
        await sink.close()

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=60 * 100)
    assert len(records) == 60 * 100
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(record.value["sequence"])
        partitions_of[record.key].add(record.partition)
    assert by_key == published  # every record, each key in the order it was published
    assert all(partitions_of[key] == {partition_for(key, [0, 1, 2])} for key in keys)
    assert {p for ps in partitions_of.values() for p in ps} == {0, 1, 2}  # keys spread


async def test_create_topic_makes_the_topic_as_shipper_setup_would(kafka_bootstrap: str) -> None:
    """The sink's create_topic goes through the one topic creator, with the shared topic_* settings
    (max.message.bytes raised to the producer's largest request)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    topic = f"test-{uuid.uuid4().hex[:12]}"
    config = KafkaSinkConfig(
        create_topic=True,
        topic_partitions=2,
        topic_retention_ms=3_600_000,
        max_request_bytes=12 * 1024 * 1024,
    )
    sink = KafkaSink(kafka_bootstrap, topic, config)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await sink.publish([OutgoingEvent(value=b'{"n":1}', key=b"k", event_id="e1")])
        (described,) = await admin.describe_topics([topic])
        assert len(described["partitions"]) == 2
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        settings = {entry[0]: entry[1] for entry in responses[0].resources[0][4]}
        assert settings["retention.ms"] == "3600000"
        assert settings["max.message.bytes"] == str(12 * 1024 * 1024)
    finally:
        await sink.close()
        await admin.delete_topics([topic])
        await admin.close()
