"""The Kafka sink against the real broker: keys keep their order in one partition each."""

from __future__ import annotations

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
