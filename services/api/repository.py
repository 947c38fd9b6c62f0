"""Every SQL statement of the read API, parameterised, beside the function that runs it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from shared.roster_db import roster_version

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # Functions take a plain connection or one borrowed from the pool.
    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]


def prefix_range(code: str) -> tuple[str, str]:
    """Bounds of the codes under an area: '16.07.' <= code < '16.07/' ('/' follows '.')."""
    # A range rather than LIKE $1: a generic prepared plan can still use the btree (COLLATE "C").
    return code + ".", code + "/"


# --- roster, tokens -------------------------------------------------------------------------

# The counter every roster write bumps (shared.roster_db's query, under the api's name).
fetch_roster_version = roster_version


_ELECTIONS = """
SELECT id, kind, name, date, max_dpt_per_tps FROM elections ORDER BY date DESC, id
"""
_CONTESTS = "SELECT election, contest, name FROM contests ORDER BY election, contest"
_PARTIES = "SELECT election, nomor, short_name, name FROM parties ORDER BY election, nomor"
# Party-list candidates are not vote columns of the totals (those are per party), so skip them.
_CANDIDATES = """
SELECT election, contest, nomor, name, generated FROM candidates
WHERE party IS NULL ORDER BY election, contest, nomor
"""
_AREAS = "SELECT code, level, name, parent_code, kind FROM areas ORDER BY code"
_TPS_PER_DESA = """
SELECT election, desa_code, count(*)::int AS tps, sum(dpt)::bigint AS dpt
FROM tps GROUP BY election, desa_code ORDER BY election, desa_code
"""


@dataclass(frozen=True, slots=True)
class RosterRows:
    """The roster tables the api keeps in memory, as fetched in one snapshot."""

    version: int
    elections: list[asyncpg.Record]
    contests: list[asyncpg.Record]
    parties: list[asyncpg.Record]
    candidates: list[asyncpg.Record]
    areas: list[asyncpg.Record]
    tps_per_desa: list[asyncpg.Record]


async def fetch_roster_rows(conn: Conn) -> RosterRows:
    """Names, the area tree and TPS counts per desa, all from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return RosterRows(
            version=await fetch_roster_version(conn),
            elections=await conn.fetch(_ELECTIONS),
            contests=await conn.fetch(_CONTESTS),
            parties=await conn.fetch(_PARTIES),
            candidates=await conn.fetch(_CANDIDATES),
            areas=await conn.fetch(_AREAS),
            tps_per_desa=await conn.fetch(_TPS_PER_DESA),
        )


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AreaSums:
    """An area's totals summed over shards."""

    votes: dict[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int
    tps_reported: int
    tps_total: int
    dpt_total: int
    dpt_reported: int
    updated_at: datetime | None


def empty_sums() -> AreaSums:
    """Totals of an area nothing was reported for."""
    return AreaSums({}, 0, 0, 0, 0, 0, 0, 0, None)


# The aggregator may split hot rows per shard; every read sums them.
_AREA_VOTES = """
SELECT area_code, candidate, sum(votes)::bigint AS votes
FROM area_totals
WHERE election = $1 AND contest = $2 AND area_code = ANY($3::text[])
GROUP BY area_code, candidate
"""
_AREA_SUMMARY = """
SELECT area_code,
       sum(suara_sah)::bigint AS suara_sah, sum(suara_tidak_sah)::bigint AS suara_tidak_sah,
       sum(pengguna)::bigint AS pengguna, sum(tps_reported)::bigint AS tps_reported,
       sum(tps_total)::bigint AS tps_total, sum(dpt_total)::bigint AS dpt_total,
       sum(dpt_reported)::bigint AS dpt_reported, max(updated_at) AS updated_at
FROM area_summary
WHERE election = $1 AND contest = $2 AND area_code = ANY($3::text[])
GROUP BY area_code
"""


async def fetch_area_sums(
    conn: Conn, *, election: str, contest: str, area_codes: Sequence[str]
) -> dict[str, AreaSums]:
    """Totals of the given areas (missing areas have no entry)."""
    codes = list(area_codes)
    votes: dict[str, dict[str, int]] = {}
    for row in await conn.fetch(_AREA_VOTES, election, contest, codes):
        votes.setdefault(row["area_code"], {})[row["candidate"]] = row["votes"]
    sums: dict[str, AreaSums] = {}
    for row in await conn.fetch(_AREA_SUMMARY, election, contest, codes):
        code = row["area_code"]
        sums[code] = AreaSums(
            votes=votes.pop(code, {}),
            suara_sah=row["suara_sah"],
            suara_tidak_sah=row["suara_tidak_sah"],
            pengguna=row["pengguna"],
            tps_reported=row["tps_reported"],
            tps_total=row["tps_total"],
            dpt_total=row["dpt_total"],
            dpt_reported=row["dpt_reported"],
            updated_at=row["updated_at"] if row["tps_reported"] > 0 else None,
        )
    for code, lines in votes.items():  # vote rows without a summary row: keep the votes
        sums[code] = AreaSums(lines, 0, 0, 0, 0, 0, 0, 0, None)
    return sums


# Every TPS of the roster under an area, with its current result if one came in.
_TPS_UNDER = """
SELECT t.code, t.desa_code, t.number, t.dpt, t.special,
       r.votes, r.suara_sah, r.suara_tidak_sah, r.pengguna, r.status, r.version,
       r.operator_id, r.channel, r.received_at, r.updated_at, r.submission_id
FROM tps t
LEFT JOIN tps_results r ON r.election = t.election AND r.contest = $2 AND r.tps = t.code
WHERE t.election = $1 AND t.code >= $3 AND t.code < $4
ORDER BY t.code
"""


async def fetch_tps_under(
    conn: Conn, *, election: str, contest: str, area_code: str
) -> list[asyncpg.Record]:
    """Roster TPS under an area with their results (result columns NULL when not reported)."""
    low, high = prefix_range(area_code)
    return await conn.fetch(_TPS_UNDER, election, contest, low, high)


# --- one TPS ------------------------------------------------------------------------------------

_TPS_ROSTER = """
SELECT code, number, dpt_l, dpt_p, dpt, special FROM tps WHERE election = $1 AND code = $2
"""
_TPS_RESULT = """
SELECT r.submission_id, r.votes, r.suara_sah, r.suara_tidak_sah, r.pengguna, r.dpt, r.status,
       r.version, r.operator_id, o.name AS operator_name, r.channel, r.received_at, r.updated_at
FROM tps_results r LEFT JOIN operators o ON o.id = r.operator_id
WHERE r.election = $1 AND r.contest = $2 AND r.tps = $3
"""
_TPS_SUBMISSIONS = """
SELECT s.submission_id, s.operator_id, o.name AS operator_name, s.channel, s.received_at,
       s.status, s.form, s.violations, s.updated_at
FROM submissions s LEFT JOIN operators o ON o.id = s.operator_id
WHERE s.election = $1 AND s.contest = $2 AND s.tps = $3
ORDER BY s.received_at, s.submission_id
"""
_TPS_VERSIONS = """
SELECT v.id, v.version, v.submission_id, v.decision, v.operator_id, o.name AS operator_name,
       v.channel, v.votes, v.note, v.at
FROM tps_result_versions v LEFT JOIN operators o ON o.id = v.operator_id
WHERE v.election = $1 AND v.contest = $2 AND v.tps = $3
ORDER BY v.id
"""
_TPS_DECISIONS = """
SELECT d.decision_id, d.reviewer_id, o.name AS reviewer_name, d.reviewer_role, d.action,
       d.submission_id, d.note, d.decided_at, d.applied_at
FROM review_decisions d LEFT JOIN operators o ON o.id = d.reviewer_id
WHERE d.election = $1 AND d.contest = $2 AND d.tps = $3
ORDER BY d.decided_at, d.decision_id
"""
_TPS_ANOMALIES = """
SELECT id, contest, tps, code, severity, detail, submission_id, created_at, resolved_at,
       resolved_by
FROM anomalies WHERE election = $1 AND contest = $2 AND tps = $3
ORDER BY created_at, id
"""


@dataclass(frozen=True, slots=True)
class TpsRows:
    """Everything stored about one contest at one TPS."""

    roster: asyncpg.Record | None
    result: asyncpg.Record | None
    submissions: list[asyncpg.Record]
    versions: list[asyncpg.Record]
    decisions: list[asyncpg.Record]
    anomalies: list[asyncpg.Record]


async def fetch_tps_rows(conn: Conn, *, election: str, contest: str, tps: str) -> TpsRows:
    """Roster row, current result, every submission, the decision trail and anomalies of a TPS."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return TpsRows(
            roster=await conn.fetchrow(_TPS_ROSTER, election, tps),
            result=await conn.fetchrow(_TPS_RESULT, election, contest, tps),
            submissions=await conn.fetch(_TPS_SUBMISSIONS, election, contest, tps),
            versions=await conn.fetch(_TPS_VERSIONS, election, contest, tps),
            decisions=await conn.fetch(_TPS_DECISIONS, election, contest, tps),
            anomalies=await conn.fetch(_TPS_ANOMALIES, election, contest, tps),
        )


async def fetch_tps_roster(conn: Conn, *, election: str, tps: str) -> asyncpg.Record | None:
    """The roster row of one TPS, if the election has it."""
    return await conn.fetchrow(_TPS_ROSTER, election, tps)


_RESULT_STATUS = """
SELECT status FROM tps_results WHERE election = $1 AND contest = $2 AND tps = $3
"""


async def fetch_result_status(conn: Conn, *, election: str, contest: str, tps: str) -> str | None:
    """Status of a TPS's counted result (ok, disputed, verified), None when nothing came in."""
    status: str | None = await conn.fetchval(_RESULT_STATUS, election, contest, tps)
    return status


_SUBMISSION_PLACE = """
SELECT election, contest, tps, status FROM submissions WHERE submission_id = $1
"""


async def fetch_submission_place(conn: Conn, submission_id: uuid.UUID) -> asyncpg.Record | None:
    """Election, contest, TPS and status of one submission, if the pipeline stored it."""
    return await conn.fetchrow(_SUBMISSION_PLACE, submission_id)


# --- review queue ---------------------------------------------------------------------------------

# Disputed results with the competing versions that are still open, newest dispute first.
_CONFLICTS = """
SELECT r.contest, r.tps, r.submission_id, r.votes, r.suara_sah, r.suara_tidak_sah, r.version,
       r.operator_id, r.channel, r.received_at, r.updated_at,
       coalesce((
           SELECT jsonb_agg(jsonb_build_object(
                      'submission_id', s.submission_id, 'operator_id', s.operator_id,
                      'channel', s.channel, 'received_at', s.received_at, 'status', s.status,
                      'form', s.form)
                  ORDER BY s.received_at)
           FROM submissions s
           WHERE s.election = r.election AND s.contest = r.contest AND s.tps = r.tps
             AND s.status = 'conflict'), '[]'::jsonb) AS rivals
FROM tps_results r
WHERE r.election = $1 AND r.status = 'disputed'
  AND ($2::text IS NULL OR r.contest = $2)
  AND ($3::text IS NULL OR (r.tps >= $3 AND r.tps < $4))
ORDER BY r.updated_at DESC, r.tps
LIMIT $5
"""


async def fetch_conflicts(
    conn: Conn,
    *,
    election: str,
    contest: str | None,
    area_code: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Disputed TPS results with their rival submissions."""
    low, high = prefix_range(area_code) if area_code else (None, None)
    return await conn.fetch(_CONFLICTS, election, contest, low, high, limit)


_ANOMALIES = """
SELECT id, contest, tps, code, severity, detail, submission_id, created_at, resolved_at,
       resolved_by
FROM anomalies
WHERE election = $1
  AND ($2::text IS NULL OR contest = $2)
  AND ($3::text IS NULL OR (tps >= $3 AND tps < $4))
  AND (NOT $5 OR resolved_at IS NULL)
ORDER BY created_at DESC, id DESC
LIMIT $6
"""


async def fetch_anomalies(
    conn: Conn,
    *,
    election: str,
    contest: str | None,
    area_code: str | None,
    open_only: bool,
    limit: int,
) -> list[asyncpg.Record]:
    """Anomalies, newest first."""
    low, high = prefix_range(area_code) if area_code else (None, None)
    return await conn.fetch(_ANOMALIES, election, contest, low, high, open_only, limit)


def record_dict(record: asyncpg.Record) -> dict[str, Any]:
    """A record as a plain dict."""
    return dict(record.items())


# --- quick count ---------------------------------------------------------------------------------

_QC_SAMPLE = """
SELECT id, seed, size, drawn_at, forced, results_at_draw, reason
FROM quickcount_samples WHERE election = $1 AND current
"""
_QC_DRAWN = """
SELECT tps FROM quickcount_sample_tps WHERE sample_id = $1 AND tps >= $2 AND tps < $3
"""
# Every counted TPS under an area with its roster DPT and whether it is in the current sample.
_QC_REPORTED = """
SELECT r.tps, r.votes, r.suara_sah, r.suara_tidak_sah, r.pengguna, t.dpt,
       (q.tps IS NOT NULL) AS in_sample
FROM tps_results r
JOIN tps t ON t.election = r.election AND t.code = r.tps
LEFT JOIN quickcount_sample_tps q ON q.sample_id = $5 AND q.tps = r.tps
WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4
"""
_QC_IS_SAMPLE = """
SELECT EXISTS (
    SELECT 1 FROM quickcount_sample_tps q JOIN quickcount_samples s ON s.id = q.sample_id
    WHERE s.election = $1 AND s.current AND q.tps = $2)
"""


async def fetch_current_sample(conn: Conn, election: str) -> asyncpg.Record | None:
    """The election's current quick-count sample, if one was drawn."""
    return await conn.fetchrow(_QC_SAMPLE, election)


async def fetch_sample_tps_under(conn: Conn, sample_id: int, area_code: str) -> list[str]:
    """Codes of the sample's TPS under an area (or the area itself when it is a TPS)."""
    low, high = prefix_range(area_code)
    rows = await conn.fetch(_QC_DRAWN, sample_id, low, high)
    return [r["tps"] for r in rows]


async def fetch_reported_for_quickcount(
    conn: Conn, *, election: str, contest: str, area_code: str, sample_id: int | None
) -> list[asyncpg.Record]:
    """Counted TPS under an area with roster DPT and sample membership."""
    low, high = prefix_range(area_code)
    return await conn.fetch(_QC_REPORTED, election, contest, low, high, sample_id or 0)


async def fetch_in_sample(conn: Conn, election: str, tps: str) -> bool:
    """Whether a TPS is in the election's current quick-count sample."""
    return bool(await conn.fetchval(_QC_IS_SAMPLE, election, tps))
