"""Photo recorder: links each photo of photos.received.v1 to its TPS in PostgreSQL.

Runs inside the aggregator process with its own consumer group. Every record is stored
idempotently (by photo id), so a redelivered batch or a rebuild's replay links each photo
once. A photo whose image (same SHA-256, or a pHash within NEAR_DUPLICATE_BITS) is already
linked to another TPS raises PHOTO_REUSED on both TPS: one sheet cannot document two TPS.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from services.aggregator.photo_repository import (
    Conn,
    ReuseMatch,
    raise_reuse,
    record_photo,
    reset_photos,
    reuse_matches,
)
from shared.consumer import Records, run_batches, subscribe
from shared.events import PhotoReceived
from shared.kafka import kafka_client_options
from shared.photos import NEAR_DUPLICATE_BITS

log = logging.getLogger(__name__)
SERVICE = "aggregator-photos"


def reuse_detail(
    event: PhotoReceived, match: ReuseMatch
) -> tuple[dict[str, object], dict[str, object]]:
    """The anomaly details for the new photo's TPS and for the other TPS (pure)."""
    kind = "same_bytes" if match.sha256 == event.sha256 else "near_identical"
    mine: dict[str, object] = {
        "other_tps": match.tps,
        "sha256": event.sha256,
        "other_sha256": match.sha256,
        "distance": match.distance,
        "kind": kind,
    }
    theirs: dict[str, object] = {
        "other_tps": event.tps,
        "sha256": match.sha256,
        "other_sha256": event.sha256,
        "distance": match.distance,
        "kind": kind,
    }
    return mine, theirs


async def apply_photo(
    conn: Conn, event: PhotoReceived, partition: int | None = None, offset: int | None = None
) -> None:
    """Record one photo and raise the reuse anomalies it causes, in one transaction."""
    async with conn.transaction():
        await record_photo(conn, event, partition, offset)
        for match in await reuse_matches(conn, event, NEAR_DUPLICATE_BITS):
            mine, theirs = reuse_detail(event, match)
            await raise_reuse(conn, event.election, event.contest, event.tps, mine)
            await raise_reuse(conn, event.election, match.contest, match.tps, theirs)


def decode(record: ConsumerRecord[bytes, bytes]) -> PhotoReceived | None:
    """The event of a record, None (logged) for a record that is no photo event."""
    try:
        return PhotoReceived.model_validate_json(record.value or b"")
    except ValidationError:
        log.warning(
            "undecodable photo record skipped",
            extra={"partition": record.partition, "offset": record.offset},
        )
        return None


async def run_photo_recorder(
    bootstrap: str, topic: str, group_id: str, pool: asyncpg.Pool, stop: asyncio.Event
) -> None:
    """Consume the photos topic until stop is set (Kafka commits after each batch)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(),
    )

    async def handle(records: Records) -> None:
        async with pool.acquire() as conn:
            for record in records:
                event = decode(record)
                if event is not None:
                    await apply_photo(conn, event, record.partition, record.offset)

    await consumer.start()
    try:
        subscribe(consumer, [topic])
        await run_batches(consumer, handle, stop, service=SERVICE, max_records=500)
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
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


async def replay_photos(bootstrap: str, topic: str, group_id: str, conn: Conn) -> int:
    """Drop the photo projections and relink every photo from the topic's start to its end.

    The recorder's group offsets are moved to the ends, so it resumes after the replay.
    """
    await reset_photos(conn)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    replayed = 0
    try:
        partitions = await _partitions(bootstrap, topic)
        if not partitions:
            return 0
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    event = decode(record)
                    if event is not None:
                        await apply_photo(conn, event, record.partition, record.offset)
                        replayed += 1
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        await consumer.commit({tp: end for tp, end in ends.items()})
    finally:
        await consumer.stop()
    return replayed
