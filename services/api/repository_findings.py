"""SQL of the findings routes (table screen_findings, written by the screener)."""

from __future__ import annotations

import asyncpg

from services.api.repository import prefix_range

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# $2..$7: contest, area bounds, code, severity, open only. A TPS finding's tps is the TPS
# code; an area finding's is its kecamatan code, matched by the kecamatan column.
_WHERE = """
WHERE election = $1
  AND ($2::text IS NULL OR contest = $2)
  AND ($3::text IS NULL OR (tps >= $3 AND tps < $4) OR kecamatan = $5 OR tps = $5)
  AND ($6::text IS NULL OR code = $6)
  AND ($7::text IS NULL OR severity = $7)
  AND (NOT $8 OR closed_at IS NULL)
"""

_LIST = (
    """
SELECT contest, tps, code, kecamatan, severity, action, value, reference, pesan, message,
       opened_at, updated_at, closed_at
FROM screen_findings"""
    + _WHERE
    + """
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
         updated_at DESC, tps, code
LIMIT $9
"""
)

_BY_KECAMATAN = (
    """
SELECT kecamatan, count(*) AS total, count(*) FILTER (WHERE severity = 'critical') AS critical,
       count(DISTINCT tps) AS tps
FROM screen_findings"""
    + _WHERE
    + """
GROUP BY kecamatan ORDER BY total DESC, kecamatan
"""
)

# Constant fragments joined at import; every value is a bind parameter.
_BY_CODE = (
    "SELECT code, count(*) AS total FROM screen_findings"  # noqa: S608
    + _WHERE
    + " GROUP BY code ORDER BY total DESC, code"
)


def _args(
    election: str,
    contest: str | None,
    area: str | None,
    code: str | None,
    severity: str | None,
    open_only: bool,
) -> tuple[object, ...]:
    low, high = prefix_range(area) if area else (None, None)
    return (election, contest, low, high, area, code, severity, open_only)


async def fetch_findings(
    conn: Conn,
    *,
    election: str,
    contest: str | None,
    area: str | None,
    code: str | None,
    severity: str | None,
    open_only: bool,
    limit: int,
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
    """(findings, counts per kecamatan, counts per code) under the filters."""
    args = _args(election, contest, area, code, severity, open_only)
    rows = await conn.fetch(_LIST, *args, limit)
    by_kec = await conn.fetch(_BY_KECAMATAN, *args)
    by_code = await conn.fetch(_BY_CODE, *args)
    return rows, by_kec, by_code


_FORENSIC_ROWS = """
SELECT r.votes, coalesce(r.pengguna, r.suara_sah + r.suara_tidak_sah) AS voters,
       coalesce(t.dpt, r.dpt, 0) AS dpt
FROM tps_results r LEFT JOIN tps t ON t.election = r.election AND t.code = r.tps
WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4
"""


async def fetch_forensic_rows(
    conn: Conn, *, election: str, contest: str, area: str
) -> list[asyncpg.Record]:
    """Votes, voters and DPT of every counted TPS under an area."""
    low, high = prefix_range(area)
    return await conn.fetch(_FORENSIC_ROWS, election, contest, low, high)


_HELD = """
SELECT r.tps, r.votes, r.suara_sah, r.suara_tidak_sah, r.hold, r.submission_id
FROM tps_results r
WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4 AND r.hold <> ''
ORDER BY r.tps
"""

# Counted (in the totals) and held votes per kecamatan and line, summed from tps_results.
_SPLIT = """
SELECT substr(r.tps, 1, 8) AS kecamatan, r.hold = 'held' AS held, v.key AS line,
       sum(v.value::bigint) AS votes
FROM tps_results r, jsonb_each_text(r.votes) v
WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4 AND r.hold <> 'rejected'
GROUP BY 1, 2, 3
"""


async def fetch_quarantine(
    conn: Conn, *, election: str, contest: str, area: str
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Held and rejected TPS results under an area, and counted/held votes per kecamatan."""
    low, high = prefix_range(area)
    held = await conn.fetch(_HELD, election, contest, low, high)
    split = await conn.fetch(_SPLIT, election, contest, low, high)
    return held, split
