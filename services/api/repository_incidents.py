"""SQL of the incident and desk-alert routes: reads, and the acknowledgement of an alert."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from services.api.repository import prefix_range
from shared.notify import DeskChanged

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]

_COLUMNS = """
incident_id, reported_at, channel, operator_id, operator_name, area_code, tps, desa_code,
kecamatan_code, category, severity, text, status, updated_at, updated_by
"""


async def fetch_incidents(
    conn: Conn,
    *,
    area: str | None,
    status: str | None,
    severity: str | None,
    order: str,
    limit: int,
) -> list[asyncpg.Record]:
    """Incidents under an area (or its own code), newest first or most severe first."""
    low, high = prefix_range(area) if area else (None, None)
    order_by = "severity_rank DESC, reported_at DESC" if order == "severity" else "reported_at DESC"
    return await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM incidents
        WHERE ($1::text IS NULL OR area_code = $1 OR (area_code >= $2 AND area_code < $3))
          AND ($4::text IS NULL OR status = $4
               OR ($4 = 'unresolved' AND status <> 'closed'))
          AND ($5::text IS NULL OR severity = $5)
        ORDER BY {order_by}, incident_id
        LIMIT $6
        """,  # noqa: S608  # order_by is one of two constants, never user text
        area,
        low,
        high,
        status,
        severity,
        limit,
    )


async def fetch_incident(conn: Conn, incident_id: uuid.UUID) -> asyncpg.Record | None:
    """One incident."""
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM incidents WHERE incident_id = $1",  # noqa: S608
        incident_id,
    )


async def fetch_incident_updates(conn: Conn, incident_id: uuid.UUID) -> list[asyncpg.Record]:
    """An incident's updates, oldest first."""
    return await conn.fetch(
        "SELECT update_id, updated_at, by_id, by_name, by_role, action, note, applied, "
        "status_after FROM incident_updates WHERE incident_id = $1 ORDER BY updated_at, update_id",
        incident_id,
    )


async def fetch_incident_counts(conn: Conn) -> list[asyncpg.Record]:
    """Per kecamatan: incidents by severity, and how many are not closed yet."""
    return await conn.fetch(
        """
        SELECT kecamatan_code,
               count(*) AS total,
               count(*) FILTER (WHERE status <> 'closed') AS unresolved,
               count(*) FILTER (WHERE status = 'open') AS open,
               count(*) FILTER (WHERE severity = 'critical') AS critical,
               count(*) FILTER (WHERE severity = 'high') AS high,
               count(*) FILTER (WHERE severity = 'medium') AS medium,
               count(*) FILTER (WHERE severity = 'low') AS low,
               max(reported_at) AS last_reported_at
        FROM incidents GROUP BY kecamatan_code ORDER BY kecamatan_code
        """
    )


async def fetch_tps_incidents(conn: Conn, tps: str) -> list[asyncpg.Record]:
    """The incidents reported at a TPS, and at its desa as a whole, newest first."""
    desa = tps.rsplit(".", 1)[0]
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM incidents WHERE tps = $1 OR area_code = $2 "  # noqa: S608
        "ORDER BY reported_at DESC LIMIT 200",
        tps,
        desa,
    )


_ALERT_COLUMNS = """
alert_id, dedupe_key, rule, severity, area_code, pesan, message, details, raised_at,
acknowledged_at, acknowledged_by, ack_note, notified_at, notify_attempts
"""


async def fetch_alerts(conn: Conn, *, open_only: bool, limit: int) -> list[asyncpg.Record]:
    """Desk alerts, newest first; only those not acknowledged yet with open_only."""
    return await conn.fetch(
        f"SELECT {_ALERT_COLUMNS} FROM desk_alerts "  # noqa: S608
        "WHERE NOT $1 OR acknowledged_at IS NULL ORDER BY raised_at DESC, alert_id DESC LIMIT $2",
        open_only,
        limit,
    )


async def fetch_alert(conn: Conn, alert_id: int) -> asyncpg.Record | None:
    """One desk alert."""
    return await conn.fetchrow(
        f"SELECT {_ALERT_COLUMNS} FROM desk_alerts WHERE alert_id = $1",  # noqa: S608
        alert_id,
    )


async def acknowledge_alert(conn: Conn, alert_id: int, by: str, note: str) -> asyncpg.Record | None:
    """Mark an alert acknowledged (the first acknowledgement stays) and tell the dashboards."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""
            UPDATE desk_alerts
            SET acknowledged_at = coalesce(acknowledged_at, now()),
                acknowledged_by = coalesce(acknowledged_by, $2),
                ack_note = CASE WHEN acknowledged_at IS NULL THEN $3 ELSE ack_note END
            WHERE alert_id = $1
            RETURNING {_ALERT_COLUMNS}
            """,  # noqa: S608
            alert_id,
            by,
            note,
        )
        if row is not None:
            where = (row["area_code"],) if row["area_code"] else ()
            payload = DeskChanged(alerts=1, kecamatan=where)
            await conn.execute(
                "SELECT pg_notify($1, $2)", DeskChanged.CHANNEL, payload.model_dump_json()
            )
    return row
