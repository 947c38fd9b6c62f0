"""Incident recorder: writes incidents.v1 (reports and the desk's updates) into PostgreSQL.

Runs inside the aggregator process with its own consumer group, like the photo recorder: the
aggregator owns the projections that `deskpemilu rebuild` drops and replays, and an incident
is a projection of the log like a photo link. Each batch is one transaction (reports upserted
by incident id, updates by update id), committed with a NOTIFY on deskpemilu_desk, so the
dashboards' feed moves within the batch; Kafka's group offset is committed after it, and a
redelivered batch changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from services.aggregator.incident_repository import (
    Conn,
    kecamatan_of_incident,
    notify_desk,
    record_reported,
    record_updated,
    reset_incidents,
)
from services.aggregator.photos import _partitions
from shared.codec import decode as decode_json
from shared.consumer import Records, run_batches, subscribe
from shared.events import IncidentReported, IncidentUpdated, incident_adapter
from shared.incidents import kecamatan_of

log = logging.getLogger(__name__)
SERVICE = "aggregator-incidents"


def decode(record: ConsumerRecord[bytes, bytes]) -> IncidentReported | IncidentUpdated | None:
    """The event of a record, None (logged) for a record that is no incident event."""
    try:
        return decode_json(incident_adapter, record.value or b"")
    except ValidationError:
        log.warning(
            "undecodable incident record skipped",
            extra={"partition": record.partition, "offset": record.offset},
        )
        return None


async def apply_incidents(conn: Conn, records: list[ConsumerRecord[bytes, bytes]]) -> int:
    """Record a batch in one transaction with its NOTIFY; the number of rows that changed."""
    changed = 0
    kecamatan: set[str] = set()
    async with conn.transaction():
        for record in records:
            event = decode(record)
            if isinstance(event, IncidentReported):
                if await record_reported(conn, event, record.partition, record.offset):
                    changed += 1
                    kecamatan.add(kecamatan_of(event.area))
            elif isinstance(event, IncidentUpdated) and await record_updated(conn, event):
                changed += 1
                where = await kecamatan_of_incident(conn, event.incident_id)
                if where is not None:
                    kecamatan.add(where)
        if changed:
            await notify_desk(conn, changed, kecamatan)
    return changed


async def run_incident_recorder(
    bootstrap: str, topic: str, group_id: str, pool: asyncpg.Pool, stop: asyncio.Event
) -> None:
    """Consume incidents.v1 until stop is set (Kafka commits after each batch)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )

    async def handle(records: Records) -> None:
        async with pool.acquire() as conn:
            await apply_incidents(conn, list(records))

    await consumer.start()
    try:
        subscribe(consumer, [topic])
        await run_batches(consumer, handle, stop, service=SERVICE, max_records=500)
    finally:
        await consumer.stop()


async def replay_topic(
    bootstrap: str,
    topic: str,
    group_id: str,
    apply: Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[int]],
) -> int:
    """Feed every record of a topic, start to current end, to apply; move the group to the end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
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
                replayed += await apply([r for r in records if r.offset < ends[tp]])
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()
    return replayed


async def replay_incidents(bootstrap: str, topic: str, group_id: str, conn: Conn) -> int:
    """Drop the incident projections and record every incident event again (rebuild)."""
    await reset_incidents(conn)

    async def apply(records: list[ConsumerRecord[bytes, bytes]]) -> int:
        return await apply_incidents(conn, records)

    return await replay_topic(bootstrap, topic, group_id, apply)
