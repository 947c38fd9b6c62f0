"""Incident recorder: writes incidents.v1 (reports and the desk's updates) into PostgreSQL.

Runs inside the aggregator process with its own consumer group, on the loop it shares with the
photo recorder (`recorder.py`): the aggregator owns the projections that `deskpemilu rebuild`
drops and replays, and an incident is a projection of the log like a photo link. Each batch is
one transaction (reports upserted by incident id, updates by update id), committed with a
NOTIFY on deskpemilu_desk, so the dashboards' feed moves within the batch; Kafka's group offset
is committed after it, and a redelivered batch changes nothing.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import ConsumerRecord

from services.aggregator.incident_repository import (
    Conn,
    kecamatan_of_incident,
    notify_desk,
    record_reported,
    record_updated,
    reset_incidents,
)
from services.aggregator.recorder import decode_or_skip, replay_topic, run_recorder
from shared.events import IncidentReported, IncidentUpdated, incident_adapter
from shared.incidents import kecamatan_of

SERVICE = "aggregator-incidents"


def decode(record: ConsumerRecord[bytes, bytes]) -> IncidentReported | IncidentUpdated | None:
    """The event of a record, None (logged) for a record that is no incident event."""
    return decode_or_skip(incident_adapter, record, "incident")


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
    await run_recorder(
        bootstrap, topic, group_id, pool, stop, service=SERVICE, apply=apply_incidents
    )


async def replay_incidents(bootstrap: str, topic: str, group_id: str, conn: Conn) -> int:
    """Drop the incident projections and record every incident event again (rebuild)."""
    await reset_incidents(conn)
    return await replay_topic(bootstrap, topic, group_id, conn, apply_incidents)
