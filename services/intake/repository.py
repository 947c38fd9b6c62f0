"""The intake's only SQL: operator directory, elections, submission status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from shared.events import Role

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A plain connection or one borrowed from the pool: both run the same queries.
    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """A registered operator as the directory keeps it."""

    id: str
    name: str
    role: Role
    scope: tuple[str, ...]
    phone: str | None
    active: bool
    demo: bool


@dataclass(frozen=True, slots=True)
class ElectionContest:
    """One contest of one election, with the election's date (newest first wins for texts)."""

    election: str
    contest: str
    date: date


async def fetch_operators(conn: Conn) -> list[OperatorRow]:
    """Every operator, active or not (an inactive operator's token is refused)."""
    rows = await conn.fetch("SELECT id, name, role, scope, phone, active, demo FROM operators")
    return [
        OperatorRow(
            id=r["id"],
            name=r["name"],
            role=Role(r["role"]),
            scope=tuple(r["scope"]),
            phone=r["phone"],
            active=r["active"],
            demo=r["demo"],
        )
        for r in rows
    ]


async def fetch_incident_areas(conn: Conn) -> frozenset[str]:
    """Every desa and TPS code of any loaded election: where an incident can be reported."""
    rows = await conn.fetch(
        "SELECT code FROM areas WHERE level = 'desa' UNION SELECT DISTINCT code FROM tps"
    )
    return frozenset(r["code"] for r in rows)


async def fetch_election_contests(conn: Conn) -> list[ElectionContest]:
    """Contests of every loaded election, newest election first."""
    rows = await conn.fetch(
        "SELECT c.election, c.contest, e.date FROM contests c "
        "JOIN elections e ON e.id = c.election ORDER BY e.date DESC, e.id"
    )
    return [ElectionContest(r["election"], r["contest"], r["date"]) for r in rows]


async def fetch_sample_tps(conn: Conn) -> set[tuple[str, str]]:
    """(election, TPS) of every election's current quick-count sample (migration 0016)."""
    rows = await conn.fetch(
        """SELECT s.election, q.tps FROM quickcount_sample_tps q
           JOIN quickcount_samples s ON s.id = q.sample_id WHERE s.current"""
    )
    return {(r["election"], r["tps"]) for r in rows}


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """A submission as the aggregator recorded it."""

    submission_id: uuid.UUID
    status: str
    election: str
    contest: str
    tps: str
    operator_id: str
    channel: str
    received_at: datetime
    violations: list[dict[str, Any]]


async def fetch_submission(conn: Conn, submission_id: uuid.UUID) -> SubmissionRow | None:
    """One submission's fate, or None when the aggregator has not recorded it (yet)."""
    row = await conn.fetchrow(
        "SELECT submission_id, status, election, contest, tps, operator_id, channel, "
        "received_at, violations FROM submissions WHERE submission_id = $1",
        submission_id,
    )
    if row is None:
        return None
    violations = row["violations"]
    return SubmissionRow(
        submission_id=row["submission_id"],
        status=row["status"],
        election=row["election"],
        contest=row["contest"],
        tps=row["tps"],
        operator_id=row["operator_id"],
        channel=row["channel"],
        received_at=row["received_at"],
        violations=list(violations) if isinstance(violations, list) else [],
    )


# --- the operator app (routes_app.py): the roster slice of a scope, and what became of it ------


def scope_patterns(scope: tuple[str, ...]) -> list[str]:
    """LIKE patterns of the TPS codes under an operator's areas (empty scope: everything)."""
    return [f"{code}.%" for code in scope] or ["%"]


async def fetch_app_roster(conn: Conn, scope: tuple[str, ...]) -> dict[str, list[asyncpg.Record]]:
    """Elections, contests, parties, candidates, and the areas and TPS under the scope."""
    patterns = scope_patterns(scope)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return {
            "elections": await conn.fetch(
                "SELECT id, kind, name, date, max_dpt_per_tps, "
                "ballot_reserve_pct::float8 AS ballot_reserve_pct FROM elections "
                "ORDER BY date DESC, id"
            ),
            "contests": await conn.fetch(
                "SELECT election, contest, name FROM contests ORDER BY election, contest"
            ),
            "parties": await conn.fetch(
                "SELECT election, nomor, short_name, name FROM parties ORDER BY election, nomor"
            ),
            "candidates": await conn.fetch(
                "SELECT election, contest, party, nomor, name FROM candidates "
                "ORDER BY election, contest, party NULLS FIRST, nomor"
            ),
            "areas": await conn.fetch(
                "SELECT code, level, name FROM areas WHERE code = ANY($1::text[]) "
                "OR code LIKE ANY($2::text[]) ORDER BY code",
                list(scope),
                patterns,
            ),
            "tps": await conn.fetch(
                "SELECT election, code, number, desa_code, dpt_l, dpt_p FROM tps "
                "WHERE code LIKE ANY($1::text[]) ORDER BY election, code",
                patterns,
            ),
        }


async def fetch_app_status(
    conn: Conn, election: str, scope: tuple[str, ...]
) -> dict[str, list[asyncpg.Record]]:
    """The newest submission per contest and TPS under the scope, and the scope's progress."""
    patterns = scope_patterns(scope)
    return {
        "latest": await conn.fetch(
            "SELECT DISTINCT ON (contest, tps) submission_id, contest, tps, status, operator_id, "
            "received_at, violations FROM submissions "
            "WHERE election = $1 AND tps LIKE ANY($2::text[]) "
            "ORDER BY contest, tps, received_at DESC, submission_id",
            election,
            patterns,
        ),
        "progress": await conn.fetch(
            "SELECT contest, area_code, sum(tps_reported)::int AS reported, "
            "sum(tps_total)::int AS total FROM area_summary "
            "WHERE election = $1 AND area_code = ANY($2::text[]) GROUP BY contest, area_code "
            "ORDER BY contest, area_code",
            election,
            list(scope),
        ),
    }
