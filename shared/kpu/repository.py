"""Every SQL statement of the KPU source, parameterised: the import writes, the api reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import orjson

from shared.db import from_row
from shared.kpu.recap import RecapRow
from shared.kpu.reconcile import DeskTps, KpuSnapshot
from shared.kpu.sirekap import KpuTps

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]


def _bounds(area: str | None) -> tuple[str, str]:
    # '16.07.' <= code < '16.07/' ('/' follows '.'); everything when no area is given.
    return ("", "\U0010ffff") if not area else (area + ".", area + "/")


def _json(value: object) -> str:
    # Arrays of jsonb go as text: asyncpg would take a list inside a list for a dimension.
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """What one batch did: TPS seen for the first time, changed since last seen, the same."""

    new: int
    changed: int
    unchanged: int


# One statement per batch: a TPS gets its version row and its current row together or not at
# all. Content equal to the current one (same hash) writes nothing.
_STORE_TPS = """
WITH incoming AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[],
                         $9::int[], $10::int[], $11::int[], $12::bool[], $13::bool[], $14::text[],
                         $15::timestamptz[], $16::text[], $17::text[])
        AS i(tps, content_hash, state, votes, suara_sah, suara_tidak_sah, suara_total, pengguna,
             dpt, status_suara, status_adm, psu, kpu_ts, images, origin)
), changed AS (
    SELECT i.* FROM incoming i
    LEFT JOIN kpu_tps_current c ON c.election = $1 AND c.contest = $2 AND c.tps = i.tps
    WHERE c.content_hash IS DISTINCT FROM i.content_hash
), written AS (
    INSERT INTO kpu_tps_versions (election, contest, tps, content_hash, state, votes, suara_sah,
                                  suara_tidak_sah, suara_total, pengguna, dpt, status_suara,
                                  status_adm, psu, kpu_ts, images, origin)
    SELECT $1, $2, tps, content_hash, state, votes::jsonb, suara_sah, suara_tidak_sah,
           suara_total, pengguna, dpt, status_suara, status_adm, psu, kpu_ts, images::jsonb, origin
    FROM changed
    RETURNING id, tps, content_hash, seen_at
)
INSERT INTO kpu_tps_current AS c (election, contest, tps, version_id, content_hash, versions,
                                  first_seen_at, changed_at)
SELECT $1, $2, tps, id, content_hash, 1, seen_at, seen_at FROM written
ON CONFLICT (election, contest, tps) DO UPDATE
    SET version_id = excluded.version_id, content_hash = excluded.content_hash,
        versions = c.versions + 1, changed_at = excluded.changed_at
RETURNING (xmax = 0) AS inserted
"""


async def store_tps(
    conn: Conn, *, election: str, contest: str, items: Sequence[tuple[KpuTps, str]]
) -> StoreCounts:
    """Store KPU documents (with the path or URL each came from); the last of a TPS wins."""
    latest: dict[str, tuple[KpuTps, str]] = {}
    for doc, origin in items:
        latest[doc.tps] = (doc, origin)
    if not latest:
        return StoreCounts(0, 0, 0)
    docs = [d for d, _ in latest.values()]
    rows = await conn.fetch(
        _STORE_TPS,
        election,
        contest,
        [d.tps for d in docs],
        [d.content_hash() for d in docs],
        [d.state.value for d in docs],
        [_json(d.votes) for d in docs],
        [d.suara_sah for d in docs],
        [d.suara_tidak_sah for d in docs],
        [d.suara_total for d in docs],
        [d.pengguna for d in docs],
        [d.dpt for d in docs],
        [d.status_suara for d in docs],
        [d.status_adm for d in docs],
        [d.psu for d in docs],
        [d.kpu_ts for d in docs],
        [_json(list(d.images)) for d in docs],
        [o for _, o in latest.values()],
    )
    new = sum(1 for r in rows if r["inserted"])
    return StoreCounts(new=new, changed=len(rows) - new, unchanged=len(docs) - len(rows))


_KPU_CURRENT = """
SELECT v.tps, v.state, v.votes, v.suara_sah, v.suara_tidak_sah, v.suara_total, v.pengguna, v.dpt,
       v.status_suara, v.status_adm, v.psu, v.kpu_ts, v.images, v.origin, v.seen_at,
       c.versions, c.first_seen_at, c.changed_at
FROM kpu_tps_current c
JOIN kpu_tps_versions v ON v.election = c.election AND v.contest = c.contest AND v.tps = c.tps
                       AND v.id = c.version_id
WHERE c.election = $1 AND c.contest = $2 AND c.tps >= $3 AND c.tps < $4
ORDER BY c.tps
"""
_KPU_HISTORY = """
SELECT v.tps, v.state, v.votes, v.suara_sah, v.suara_tidak_sah, v.suara_total, v.pengguna, v.dpt,
       v.status_suara, v.status_adm, v.psu, v.kpu_ts, v.images, v.origin, v.seen_at,
       v.content_hash
FROM kpu_tps_versions v
WHERE v.election = $1 AND v.contest = $2 AND v.tps = $3 ORDER BY v.id
"""


def _kpu_tps(row: asyncpg.Record) -> KpuTps:
    return from_row(KpuTps, row)  # the model converts state and images


async def fetch_kpu_current(
    conn: Conn, *, election: str, contest: str, area: str | None = None
) -> dict[str, KpuSnapshot]:
    """KPU's latest document per TPS under an area (all when None), with its snapshot time."""
    low, high = _bounds(area)
    rows = await conn.fetch(_KPU_CURRENT, election, contest, low, high)
    return {
        r["tps"]: KpuSnapshot(data=_kpu_tps(r), taken_at=r["kpu_ts"] or r["seen_at"]) for r in rows
    }


@dataclass(frozen=True, slots=True)
class KpuVersion:
    """One thing KPU showed for a TPS, and when the desk first saw it."""

    data: KpuTps
    origin: str
    seen_at: Any
    content_hash: str


async def fetch_kpu_history(
    conn: Conn, *, election: str, contest: str, tps: str
) -> list[KpuVersion]:
    """Everything KPU showed for one TPS, oldest first."""
    rows = await conn.fetch(_KPU_HISTORY, election, contest, tps)
    return [KpuVersion(_kpu_tps(r), r["origin"], r["seen_at"], r["content_hash"]) for r in rows]


# The desk's side: the counted result and when its numbers last changed by a revision or review.
_DESK = """
SELECT r.tps, r.votes, r.suara_sah, r.suara_tidak_sah, r.pengguna,
       (SELECT max(v.at) FROM tps_result_versions v
        WHERE v.election = r.election AND v.contest = r.contest AND v.tps = r.tps
          AND v.decision IN ('revision', 'review') AND v.version IS NOT NULL) AS corrected_at
FROM tps_results r
WHERE r.election = $1 AND r.contest = $2 AND r.tps >= $3 AND r.tps < $4
"""


async def fetch_desk(
    conn: Conn, *, election: str, contest: str, area: str | None = None
) -> dict[str, DeskTps]:
    """The desk's counted results under an area."""
    low, high = _bounds(area)
    rows = await conn.fetch(_DESK, election, contest, low, high)
    return {r["tps"]: from_row(DeskTps, r) for r in rows}


_FRAME = "SELECT code, dpt FROM tps WHERE election = $1 AND code >= $2 AND code < $3"
_RESERVE = "SELECT ballot_reserve_pct::float8 FROM elections WHERE id = $1"


async def fetch_frame(conn: Conn, *, election: str, area: str | None = None) -> dict[str, int]:
    """The roster's TPS under an area with their DPT."""
    low, high = _bounds(area)
    return {r["code"]: r["dpt"] for r in await conn.fetch(_FRAME, election, low, high)}


async def fetch_reserve_pct(conn: Conn, *, election: str) -> float | None:
    """The election's ballot reserve in percent; None when the election is not loaded."""
    value: float | None = await conn.fetchval(_RESERVE, election)
    return value


# --- D.Hasil recapitulation per desa --------------------------------------------------------


_STORE_RECAP = """
WITH incoming AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[],
                         $9::int[], $10::text[])
        AS i(area_code, content_hash, votes, suara_sah, suara_tidak_sah, pengguna, dpt, origin)
), changed AS (
    SELECT i.* FROM incoming i
    LEFT JOIN kpu_recap_current c
        ON c.election = $1 AND c.contest = $2 AND c.area_code = i.area_code
    WHERE c.content_hash IS DISTINCT FROM i.content_hash
), written AS (
    INSERT INTO kpu_recap_versions (election, contest, area_code, content_hash, votes, suara_sah,
                                    suara_tidak_sah, pengguna, dpt, origin)
    SELECT $1, $2, area_code, content_hash, votes::jsonb, suara_sah, suara_tidak_sah, pengguna, dpt,
           origin
    FROM changed
    RETURNING id, area_code, content_hash, seen_at
)
INSERT INTO kpu_recap_current AS c (election, contest, area_code, version_id, content_hash,
                                    versions, first_seen_at, changed_at)
SELECT $1, $2, area_code, id, content_hash, 1, seen_at, seen_at FROM written
ON CONFLICT (election, contest, area_code) DO UPDATE
    SET version_id = excluded.version_id, content_hash = excluded.content_hash,
        versions = c.versions + 1, changed_at = excluded.changed_at
RETURNING (xmax = 0) AS inserted
"""


async def store_recap(
    conn: Conn, *, election: str, contest: str, rows: Sequence[RecapRow], origin: str
) -> StoreCounts:
    """Store one recap file's rows in one statement; the same figures again write nothing."""
    latest = {r.area_code: r for r in rows}
    if not latest:
        return StoreCounts(0, 0, 0)
    items = list(latest.values())
    result = await conn.fetch(
        _STORE_RECAP,
        election,
        contest,
        [r.area_code for r in items],
        [r.content_hash() for r in items],
        [_json(r.votes) for r in items],
        [r.suara_sah for r in items],
        [r.suara_tidak_sah for r in items],
        [r.pengguna for r in items],
        [r.dpt for r in items],
        [origin] * len(items),
    )
    new = sum(1 for r in result if r["inserted"])
    return StoreCounts(new=new, changed=len(result) - new, unchanged=len(items) - len(result))


_RECAP_CURRENT = """
SELECT v.area_code, v.votes, v.suara_sah, v.suara_tidak_sah, v.pengguna, v.dpt
FROM kpu_recap_current c
JOIN kpu_recap_versions v ON v.election = c.election AND v.contest = c.contest
                         AND v.area_code = c.area_code AND v.id = c.version_id
WHERE c.election = $1 AND c.contest = $2 AND c.area_code >= $3 AND c.area_code < $4
ORDER BY c.area_code
"""


async def fetch_recap_current(
    conn: Conn, *, election: str, contest: str, area: str | None = None
) -> dict[str, RecapRow]:
    """KPU's latest recap figures per desa under an area."""
    low, high = _bounds(area)
    rows = await conn.fetch(_RECAP_CURRENT, election, contest, low, high)
    return {r["area_code"]: from_row(RecapRow, r) for r in rows}


# --- findings on the review queue ------------------------------------------------------------

# One anomaly per TPS and contest (submission_id NULL); new or changed differences (re)open it,
# the same ones again change nothing, and a TPS that no longer differs gets it resolved.
_UPSERT_FINDINGS = """
INSERT INTO anomalies AS a (election, contest, tps, code, severity, detail)
SELECT $1, $2, f.tps, $3, 'warning', f.detail::jsonb
FROM unnest($4::text[], $5::text[]) AS f(tps, detail)
ON CONFLICT ON CONSTRAINT anomalies_once DO UPDATE
    SET detail = excluded.detail, resolved_at = NULL, resolved_by = NULL, created_at = now()
    WHERE a.detail IS DISTINCT FROM excluded.detail
RETURNING a.tps
"""
_RESOLVE_FINDINGS = """
UPDATE anomalies SET resolved_at = now(), resolved_by = 'deskpemilu kpu import'
WHERE election = $1 AND contest = $2 AND code = $3 AND submission_id IS NULL
  AND resolved_at IS NULL AND NOT (tps = ANY($4::text[]))
RETURNING tps
"""


@dataclass(frozen=True, slots=True)
class FindingCounts:
    """What a sync did on the review queue."""

    opened: int  # new, or changed since last time
    resolved: int  # no longer differing


async def sync_findings(
    conn: Conn, *, election: str, contest: str, code: str, findings: dict[str, dict[str, object]]
) -> FindingCounts:
    """Make the open findings of this code be exactly these TPS, in one transaction."""
    tps = sorted(findings)
    async with conn.transaction():
        opened = await conn.fetch(
            _UPSERT_FINDINGS, election, contest, code, tps, [_json(findings[t]) for t in tps]
        )
        resolved = await conn.fetch(_RESOLVE_FINDINGS, election, contest, code, tps)
    return FindingCounts(opened=len(opened), resolved=len(resolved))
