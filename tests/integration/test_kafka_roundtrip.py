"""Kafka answers as the shipper will use it: acks=all, idempotent producer, group consumer."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def test_produce_consume_roundtrip_with_acks_all_and_idempotence(
    kafka_bootstrap: str, kafka_topic: str
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type="zstd",
    )
    await producer.start()
    try:
        sent = [f"line-{i}".encode() for i in range(100)]
        results = await asyncio.gather(
            *[await producer.send(kafka_topic, value, key=b"file-1") for value in sent]
        )
    finally:
        await producer.stop()
    # One key -> one partition, offsets assigned in send order.
    assert [r.offset for r in results] == list(range(100))

    consumer = AIOKafkaConsumer(
        kafka_topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{kafka_topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        received: list[bytes] = []
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    received.extend(r.value for r in records)
        await consumer.commit()
        committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
    finally:
        await consumer.stop()
    assert received == sent
    assert sum(offset or 0 for offset in committed.values()) == 100
