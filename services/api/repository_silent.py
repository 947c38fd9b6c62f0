"""SQL of the silent-TPS view and the operators' activity report (parameterised, read-only)."""

from __future__ import annotations

import asyncpg

from services.api.repository import prefix_range

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# The TPS of an election under an area ($2, $3: the area's code range).
_TPS_UNDER = """
SELECT code, desa_code FROM tps
WHERE election = $1 AND code >= $2 AND code < $3
ORDER BY code
"""

# Each counted TPS result under an area with the time it first reached the desk: the earliest
# submission of that TPS and contest that was not rejected (a later revision does not move it).
_RECEIVED_UNDER = """
SELECT r.tps,
       coalesce((SELECT min(s.received_at) FROM submissions s
                 WHERE s.election = r.election AND s.contest = r.contest AND s.tps = r.tps
                   AND s.status <> 'rejected'), r.received_at) AS first_at
FROM tps_results r
WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4
"""

_FIELD_OPERATORS = """
SELECT id, name, role, scope, phone FROM operators
WHERE active AND role IN ('operator', 'camat')
ORDER BY id
"""

_SUBMISSIONS_UNDER = """
SELECT operator_id, contest, tps, channel, status, received_at FROM submissions
WHERE election = $1 AND tps >= $2 AND tps < $3
"""

_OPERATORS = "SELECT id, name, role, scope, phone FROM operators ORDER BY id"

_INCIDENTS_PER_OPERATOR = """
SELECT operator_id, count(*) AS n FROM incidents
WHERE area_code >= $1 AND area_code < $2
GROUP BY operator_id
"""

_INCIDENT_COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'incidents'
"""


async def fetch_tps_under(conn: Conn, *, election: str, area: str) -> list[asyncpg.Record]:
    """(code, desa_code) of every TPS of the election under the area, in code order."""
    low, high = prefix_range(area)
    return await conn.fetch(_TPS_UNDER, election, low, high)


async def fetch_received_under(
    conn: Conn, *, election: str, contest: str, area: str
) -> list[asyncpg.Record]:
    """(tps, first_at) of every counted result of the contest under the area."""
    low, high = prefix_range(area)
    return await conn.fetch(_RECEIVED_UNDER, election, contest, low, high)


async def fetch_field_operators(conn: Conn) -> list[asyncpg.Record]:
    """Active operators and camat with their scope and phone (who answers for which TPS)."""
    return await conn.fetch(_FIELD_OPERATORS)


async def fetch_operators(conn: Conn) -> list[asyncpg.Record]:
    """Every operator of the roster (the activity report lists the silent ones too)."""
    return await conn.fetch(_OPERATORS)


async def fetch_submissions_under(conn: Conn, *, election: str, area: str) -> list[asyncpg.Record]:
    """Every submission of the election for a TPS code under the area (rejected ones too)."""
    low, high = prefix_range(area)
    return await conn.fetch(_SUBMISSIONS_UNDER, election, low, high)


async def fetch_incident_counts(conn: Conn, *, election: str, area: str) -> dict[str, int] | None:
    """Incidents reported per operator under the area, or None when there is no incidents table.

    The table (migration 0021) is the incident recorder's projection of incidents.v1: the
    reporting operator (``operator_id``) and the TPS or desa reported (``area_code``). It has no
    election column; an incident counts for the election whose TPS codes it falls under.
    """
    columns = {r["column_name"] for r in await conn.fetch(_INCIDENT_COLUMNS)}
    if not {"operator_id", "area_code"} <= columns:
        return None
    low, high = prefix_range(area)
    rows = await conn.fetch(_INCIDENTS_PER_OPERATOR, low, high)
    return {r["operator_id"]: int(r["n"]) for r in rows}
