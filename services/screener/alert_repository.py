"""SQL of the desk alerts: the facts the rules look at, the alerts stored once, their sends."""

from __future__ import annotations

from datetime import datetime

from services.screener.alerts import (
    Alert,
    IncidentFact,
    KecamatanFact,
    QuarantineFact,
)
from services.screener.repository import Conn
from shared.incidents import SEVERITY_RANK, IncidentCategory, IncidentSeverity
from shared.notify import DeskChanged
from shared.silence import AreaCount


async def incident_facts(
    conn: Conn, rule_code: str, min_severity: IncidentSeverity
) -> list[IncidentFact]:
    """Incidents of the last day at or above min_severity that this rule has not alerted yet."""
    rows = await conn.fetch(
        """
        SELECT i.incident_id::text AS incident_id, i.area_code, i.kecamatan_code,
               coalesce(a.name, i.kecamatan_code) AS kecamatan_name, i.category, i.severity,
               i.text, coalesce(nullif(i.operator_name, ''), i.operator_id) AS operator,
               i.reported_at
        FROM incidents i LEFT JOIN areas a ON a.code = i.kecamatan_code
        WHERE i.severity_rank >= $1 AND i.reported_at > now() - interval '1 day'
          AND NOT EXISTS (SELECT 1 FROM desk_alerts d
                          WHERE d.dedupe_key = $2 || ':' || i.incident_id::text)
        ORDER BY i.reported_at
        LIMIT 500
        """,
        SEVERITY_RANK[min_severity],
        rule_code,
    )
    return [
        IncidentFact(
            incident_id=r["incident_id"],
            area=r["area_code"],
            kecamatan=r["kecamatan_code"],
            kecamatan_name=r["kecamatan_name"],
            category=IncidentCategory(r["category"]),
            severity=IncidentSeverity(r["severity"]),
            text=r["text"],
            operator=r["operator"],
            reported_at=r["reported_at"],
        )
        for r in rows
    ]


async def quarantine_facts(conn: Conn) -> list[QuarantineFact]:
    """Every contest with held results: counted and held votes per line per kabupaten/kota."""
    facts: list[QuarantineFact] = []
    held = await conn.fetch(
        "SELECT election, contest, substr(tps, 1, 5) AS kabko, array_agg(tps ORDER BY tps) AS tps "
        "FROM tps_results WHERE hold = 'held' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    for h in held:
        rows = await conn.fetch(
            """
            SELECT r.hold = 'held' AS held, v.key AS line, sum(v.value::bigint) AS votes
            FROM tps_results r, jsonb_each_text(r.votes) v
            WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4
              AND r.hold <> 'rejected'
            GROUP BY 1, 2
            """,
            h["election"],
            h["contest"],
            h["kabko"] + ".",
            h["kabko"] + "/",
        )
        counted = {r["line"]: int(r["votes"]) for r in rows if not r["held"]}
        held_votes = {r["line"]: int(r["votes"]) for r in rows if r["held"]}
        facts.append(
            QuarantineFact(
                election=h["election"],
                contest=h["contest"],
                area=h["kabko"],
                counted=counted,
                held=held_votes,
                held_tps=tuple(h["tps"]),
            )
        )
    return facts


async def kecamatan_facts(conn: Conn) -> list[KecamatanFact]:
    """Per election that has results: each kecamatan's expected and received results."""
    rows = await conn.fetch(
        """
        WITH started AS (SELECT DISTINCT election FROM tps_results),
        expected AS (
            SELECT t.election, substr(t.code, 1, 8) AS kecamatan, count(*) * (
                SELECT count(*) FROM contests c WHERE c.election = t.election) AS expected
            FROM tps t JOIN started s ON s.election = t.election
            GROUP BY 1, 2),
        received AS (
            SELECT election, substr(tps, 1, 8) AS kecamatan, count(*) AS received,
                   max(received_at) AS last_at
            FROM tps_results GROUP BY 1, 2)
        SELECT e.election, e.kecamatan, coalesce(a.name, e.kecamatan) AS name, e.expected,
               coalesce(r.received, 0) AS received, r.last_at
        FROM expected e
        LEFT JOIN received r ON r.election = e.election AND r.kecamatan = e.kecamatan
        LEFT JOIN areas a ON a.code = e.kecamatan
        ORDER BY 1, 2
        """
    )
    return [
        KecamatanFact(
            election=r["election"],
            code=r["kecamatan"],
            name=r["name"],
            count=AreaCount(
                expected=int(r["expected"]),
                received=int(r["received"]),
                last_progress_at=r["last_at"],
            ),
        )
        for r in rows
    ]


async def stored_offsets(
    conn: Conn, group: str
) -> tuple[dict[tuple[str, int], int], datetime | None]:
    """The aggregator's stored offsets (topic, partition) -> next offset, and the latest commit."""
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset, updated_at FROM consumer_offsets "
        "WHERE consumer_group = $1",
        group,
    )
    latest = max((r["updated_at"] for r in rows), default=None)
    return {(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}, latest


async def store_alerts(conn: Conn, alerts: list[Alert]) -> list[tuple[int, Alert]]:
    """Store the alerts not stored before (by dedupe key); the new ones with their ids.

    One NOTIFY deskpemilu_desk for the dashboards' banner when any is new.
    """
    new: list[tuple[int, Alert]] = []
    async with conn.transaction():
        for alert in alerts:
            alert_id = await conn.fetchval(
                """
                INSERT INTO desk_alerts (dedupe_key, rule, severity, area_code, pesan, message,
                                         details)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING alert_id
                """,
                alert.dedupe_key,
                alert.rule,
                alert.severity.value,
                alert.area,
                alert.pesan,
                alert.message,
                alert.details,
            )
            if alert_id is not None:
                new.append((int(alert_id), alert))
        if new:
            where = tuple(sorted({a.area for _, a in new if a.area}))[:50]
            payload = DeskChanged(alerts=len(new), kecamatan=where)
            await conn.execute(
                "SELECT pg_notify($1, $2)", DeskChanged.CHANNEL, payload.model_dump_json()
            )
    return new


async def unsent_alerts(conn: Conn, max_attempts: int) -> list[tuple[int, Alert]]:
    """Alerts of the last day not yet sent to every coordinator (resent after a restart)."""
    rows = await conn.fetch(
        """
        SELECT alert_id, dedupe_key, rule, severity, area_code, pesan, message, details
        FROM desk_alerts
        WHERE notified_at IS NULL AND notify_attempts < $1
          AND raised_at > now() - interval '1 day'
        ORDER BY alert_id
        """,
        max_attempts,
    )
    return [
        (
            int(r["alert_id"]),
            Alert(
                dedupe_key=r["dedupe_key"],
                rule=r["rule"],
                severity=IncidentSeverity(r["severity"]),
                area=r["area_code"],
                pesan=r["pesan"],
                message=r["message"],
                details=dict(r["details"] or {}),
            ),
        )
        for r in rows
    ]


async def mark_attempt(conn: Conn, alert_id: int, *, sent: bool) -> None:
    """Count one send round of an alert; set notified_at when every coordinator has it."""
    await conn.execute(
        "UPDATE desk_alerts SET notify_attempts = notify_attempts + 1, "
        "notified_at = CASE WHEN $2 THEN now() ELSE notified_at END WHERE alert_id = $1",
        alert_id,
        sent,
    )
