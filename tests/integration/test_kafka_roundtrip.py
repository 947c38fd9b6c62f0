"""The real broker: idempotent produce/consume round trip and a transaction read back committed."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.kafka import make_producer
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration


async def _consume_all(
    bootstrap: str, topic: str, expected: int, *, isolation_level: str = "read_uncommitted"
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"rt-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation_level,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            values += [r.value for part in batch.values() for r in part if r.value is not None]
            if len(values) >= expected:
                break
    finally:
        await consumer.stop()
    return values


async def test_idempotent_producer_round_trip(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("roundtrip")
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        sent = [f"form-{i}".encode() for i in range(100)]
        futures = [await producer.send(topic, value=v, key=b"16.07.01.1016.001") for v in sent]
        metadata = [await f for f in futures]
    finally:
        await producer.stop()
    # One key: one partition, offsets in send order.
    assert len({m.partition for m in metadata}) == 1
    assert [m.offset for m in metadata] == list(range(100))
    assert await _consume_all(kafka_bootstrap, topic, 100) == sent


async def test_transaction_visible_to_read_committed_only_after_commit(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("txn", partitions=1)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"tx-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            for i in range(10):
                await producer.send(topic, value=f"committed-{i}".encode())
        await producer.begin_transaction()
        await producer.send(topic, value=b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, value=b"after-abort")
    finally:
        await producer.stop()
    committed = await _consume_all(kafka_bootstrap, topic, 11, isolation_level="read_committed")
    assert committed == [f"committed-{i}".encode() for i in range(10)] + [b"after-abort"]
    everything = await _consume_all(kafka_bootstrap, topic, 12)
    assert b"aborted" in everything  # the aborted record is in the log, hidden by read_committed
