"""SQL of the silent-TPS reminders (table silent_reminders, migration 0023; parameterised)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_NEWEST_ELECTION = "SELECT id FROM elections ORDER BY date DESC, id LIMIT 1"

# Every (TPS, contest) of the election with no counted result yet.
_SILENT_PAIRS = """
SELECT t.code AS tps, c.contest
FROM tps t JOIN contests c ON c.election = t.election
WHERE t.election = $1
  AND NOT EXISTS (SELECT 1 FROM tps_results r
                  WHERE r.election = t.election AND r.contest = c.contest AND r.tps = t.code)
ORDER BY t.code, c.contest
"""

_FIELD_OPERATORS = """
SELECT id, name, scope, phone FROM operators
WHERE active AND role = 'operator' AND phone IS NOT NULL
ORDER BY id
"""

# Claim a reminder unless one was claimed or sent within the rate limit ($8: its start).
_CLAIM = """
INSERT INTO silent_reminders (election, operator_id, phone, tps, contests, text, claimed_at)
SELECT $1, $2, $3, $4, $5, $6, $7
WHERE NOT EXISTS (SELECT 1 FROM silent_reminders
                  WHERE operator_id = $2 AND status <> 'failed' AND claimed_at > $8)
RETURNING id
"""

_FINISH = "UPDATE silent_reminders SET status = $2, sent_at = $3 WHERE id = $1"


async def newest_election(conn: Conn) -> str | None:
    """The election held last (the one whose day it is, on an election day)."""
    value = await conn.fetchval(_NEWEST_ELECTION)
    return str(value) if value is not None else None


async def fetch_silent_pairs(conn: Conn, election: str) -> list[tuple[str, str]]:
    """(TPS, contest) pairs of the election without a counted result, in TPS order."""
    return [(r["tps"], r["contest"]) for r in await conn.fetch(_SILENT_PAIRS, election)]


async def fetch_field_operators(conn: Conn) -> list[asyncpg.Record]:
    """Active field operators with a phone number: who can be reminded."""
    return await conn.fetch(_FIELD_OPERATORS)


async def claim_reminder(
    conn: Conn,
    *,
    election: str,
    operator_id: str,
    phone: str,
    tps: list[str],
    contests: list[str],
    text: str,
    now: datetime,
    interval: timedelta,
) -> int | None:
    """Record a reminder about to be sent, or None when the operator had one too recently."""
    async with conn.transaction():
        # One claimer per operator at a time, across intake replicas.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('silent-reminder:' || $1))", operator_id
        )
        claimed = await conn.fetchval(
            _CLAIM, election, operator_id, phone, tps, contests, text, now, now - interval
        )
    return int(claimed) if claimed is not None else None


async def finish_reminder(conn: Conn, reminder_id: int, *, sent: bool, at: datetime) -> None:
    """Mark a claimed reminder sent or failed."""
    await conn.execute(_FINISH, reminder_id, "sent" if sent else "failed", at if sent else None)
