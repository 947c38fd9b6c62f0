"""SQL of the incident recorder: incidents, their updates, and the desk's NOTIFY."""

from __future__ import annotations

import uuid

import asyncpg

from shared.events import IncidentReported, IncidentUpdated
from shared.incidents import (
    SEVERITY_RANK,
    IncidentStatus,
    desa_of,
    kecamatan_of,
    next_status,
)
from shared.notify import DeskChanged

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def record_reported(
    conn: Conn, event: IncidentReported, partition: int | None, offset: int | None
) -> bool:
    """Store one report (idempotent by incident id); True when it is new."""
    tps = event.area if event.area.count(".") == 4 else None
    status = await conn.execute(
        """
        INSERT INTO incidents (incident_id, reported_at, channel, operator_id, operator_name,
                               reply_to, area_code, tps, desa_code, kecamatan_code, category,
                               severity, severity_rank, text, updated_at, kafka_partition,
                               kafka_offset)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $2, $15, $16)
        ON CONFLICT (incident_id) DO NOTHING
        """,
        event.incident_id,
        event.reported_at,
        event.channel.value,
        event.operator.id,
        event.operator.name,
        event.reply_to,
        event.area,
        tps,
        desa_of(event.area),
        kecamatan_of(event.area),
        event.category.value,
        event.severity.value,
        SEVERITY_RANK[event.severity],
        event.text,
        partition,
        offset,
    )
    return bool(status.endswith(" 1"))


async def record_updated(conn: Conn, event: IncidentUpdated) -> bool:
    """Apply one update (idempotent by update id); False when unknown, repeated or not applied.

    The status follows shared.incidents.next_status; an update that does not apply (a follow-up
    on a closed incident) is kept in the history with applied = false.
    """
    row = await conn.fetchrow(
        "SELECT status FROM incidents WHERE incident_id = $1 FOR UPDATE", event.incident_id
    )
    if row is None:
        return False  # an update for a report this desk never saw; nothing to attach it to
    current = IncidentStatus(row["status"])
    after = next_status(current, event.action)
    inserted = await conn.execute(
        """
        INSERT INTO incident_updates (update_id, incident_id, updated_at, by_id, by_name,
                                      by_role, action, note, applied, status_after)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (update_id) DO NOTHING
        """,
        event.update_id,
        event.incident_id,
        event.updated_at,
        event.by.id,
        event.by.name,
        event.by.role.value,
        event.action.value,
        event.note,
        after is not None,
        (after or current).value,
    )
    if not inserted.endswith(" 1") or after is None:
        return False
    await conn.execute(
        "UPDATE incidents SET status = $2, updated_at = $3, updated_by = $4 WHERE incident_id = $1",
        event.incident_id,
        after.value,
        event.updated_at,
        event.by.id,
    )
    return True


async def notify_desk(conn: Conn, incidents: int, kecamatan: set[str]) -> None:
    """Tell the dashboards (LISTEN deskpemilu_desk) that incidents changed; sent at commit."""
    payload = DeskChanged(incidents=incidents, kecamatan=tuple(sorted(kecamatan))[:50])
    await conn.execute("SELECT pg_notify($1, $2)", DeskChanged.CHANNEL, payload.model_dump_json())


async def kecamatan_of_incident(conn: Conn, incident_id: uuid.UUID) -> str | None:
    """The kecamatan an incident is in, or None when unknown."""
    value = await conn.fetchval(
        "SELECT kecamatan_code FROM incidents WHERE incident_id = $1", incident_id
    )
    return None if value is None else str(value)


async def reset_incidents(conn: Conn) -> None:
    """Drop the incident projections (rebuild replays them from incidents.v1)."""
    await conn.execute("TRUNCATE incident_updates, incidents")
