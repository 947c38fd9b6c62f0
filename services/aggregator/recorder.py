"""Side recorders: one topic, its own consumer group, recorded into PostgreSQL projections.

The photo recorder (photos.received.v1) and the incident recorder (incidents.v1) run inside
the aggregator process with the same loop: fetch a batch, hand it to the recorder's `apply`
on one pooled connection, then commit Kafka's group offsets (`shared.consumer.run_batches`,
metrics under the recorder's service label). `apply` owns its transactions and must be
idempotent (photos by photo id, incidents by incident and update id): a batch redelivered
after a crash, before its commit, changes nothing. `replay_topic` feeds a topic from its
start to its current end to the same `apply` (rebuild) and moves the group to that end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import TypeAdapter, ValidationError

from shared.codec import decode
from shared.consumer import Records, run_batches, subscribe
from shared.kafka import kafka_client_options

log = logging.getLogger(__name__)
T = TypeVar("T")

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Record: TypeAlias = ConsumerRecord[bytes, bytes]
# Record a batch on a connection; the number of records or rows it counted.
Apply: TypeAlias = Callable[[Conn, list[Record]], Awaitable[int]]
BATCH_RECORDS = 500
REPLAY_RECORDS = 1000


def decode_or_skip(adapter: TypeAdapter[T], record: Record, what: str) -> T | None:
    """The record's event, None (logged) for a record that is no such event."""
    try:
        return decode(adapter, record.value or b"")
    except ValidationError:
        log.warning(
            "undecodable %s record skipped",
            what,
            extra={"partition": record.partition, "offset": record.offset},
        )
        return None


async def run_recorder(
    bootstrap: str,
    topic: str,
    group_id: str,
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    *,
    service: str,
    apply: Apply,
) -> None:
    """Consume the topic until stop is set; Kafka commits after each batch is applied."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(),
    )

    async def handle(records: Records) -> None:
        async with pool.acquire() as conn:
            await apply(conn, list(records))

    await consumer.start()
    try:
        subscribe(consumer, [topic])
        await run_batches(consumer, handle, stop, service=service, max_records=BATCH_RECORDS)
    finally:
        await consumer.stop()


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """Every partition of the topic (none if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, p["partition"])
        for d in described
        if d["error_code"] == 0
        for p in d["partitions"]
    ]


async def replay_topic(bootstrap: str, topic: str, group_id: str, conn: Conn, apply: Apply) -> int:
    """Feed every record of a topic, start to current end, to apply; move the group to the end.

    The recorder's group offsets are moved to the ends, so it resumes after the replay.
    Returns the sum of what apply counted.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    replayed = 0
    try:
        partitions = await topic_partitions(bootstrap, topic)
        if not partitions:
            return 0
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=REPLAY_RECORDS)
            for tp, records in batches.items():
                replayed += await apply(conn, [r for r in records if r.offset < ends[tp]])
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()
    return replayed
