"""Every SQL statement of the screener: read a kecamatan's results, store its findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from services.screener.screens import Action, Finding, TpsResult
from shared.db import from_row
from shared.screens import Severity

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

KECAMATAN_LEN = 8  # '16.07.01'

_ELECTIONS = """
SELECT election FROM tps_results UNION SELECT election FROM screen_state ORDER BY 1
"""

# What changes when any result of a kecamatan changes: a new TPS, a revision, a review.
_FINGERPRINTS = """
SELECT substr(tps, 1, 8) AS kecamatan,
       count(*)::text || '/' || coalesce(sum(version), 0)::text || '/'
         || coalesce(max(updated_at)::text, '') AS fingerprint
FROM tps_results
WHERE election = $1
GROUP BY 1
"""

_STORED = "SELECT kecamatan, fingerprint FROM screen_state WHERE election = $1"

# One kecamatan's fingerprint now, as _FINGERPRINTS computes it ('' once it has no result).
_FINGERPRINT = """
SELECT CASE WHEN count(*) = 0 THEN '' ELSE
       count(*)::text || '/' || coalesce(sum(version), 0)::text || '/'
         || coalesce(max(updated_at)::text, '') END
FROM tps_results
WHERE election = $1 AND tps >= $2 AND tps < $3
"""
_STORED_ONE = "SELECT fingerprint FROM screen_state WHERE election = $1 AND kecamatan = $2"
# Several screener instances share the work: whoever takes a kecamatan's lock (held to the end
# of the transaction) screens it, the others pass it by.
_CLAIM = "SELECT pg_try_advisory_xact_lock(hashtext('deskpemilu-screener'), hashtext($1))"

# The counted results of one kecamatan with the roster's DPT and the form (for DPTb/DPK).
_RESULTS = """
SELECT r.contest, r.tps, r.votes, r.suara_sah, r.suara_tidak_sah, r.pengguna, r.version,
       r.operator_id, r.channel, extract(epoch FROM r.received_at)::float8 AS received_at,
       coalesce(t.dpt, r.dpt, 0) AS dpt, s.form
FROM tps_results r
LEFT JOIN tps t ON t.election = r.election AND t.code = r.tps
LEFT JOIN submissions s ON s.submission_id = r.submission_id
WHERE r.election = $1 AND r.tps >= $2 AND r.tps < $3
"""

_OPEN = """
SELECT contest, tps, code, severity, action, value, reference, pesan, message
FROM screen_findings
WHERE election = $1 AND kecamatan = $2 AND closed_at IS NULL
"""

_UPSERT = """
INSERT INTO screen_findings (election, contest, tps, code, kecamatan, severity, action, value,
                             reference, pesan, message)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (election, contest, tps, code) DO UPDATE SET
    severity = excluded.severity, action = excluded.action, value = excluded.value,
    reference = excluded.reference, pesan = excluded.pesan, message = excluded.message,
    updated_at = now(),
    opened_at = CASE WHEN screen_findings.closed_at IS NULL THEN screen_findings.opened_at
                     ELSE now() END,
    closed_at = NULL
"""

_CLOSE = """
UPDATE screen_findings SET closed_at = now(), updated_at = now()
WHERE election = $1 AND contest = $2 AND tps = $3 AND code = $4 AND closed_at IS NULL
"""

_STATE = """
INSERT INTO screen_state (election, kecamatan, fingerprint) VALUES ($1, $2, $3)
ON CONFLICT (election, kecamatan) DO UPDATE SET fingerprint = excluded.fingerprint,
    screened_at = now()
"""

_OPEN_BY_CODE = """
SELECT code, severity, count(*) AS n FROM screen_findings WHERE closed_at IS NULL
GROUP BY code, severity
"""


async def elections(conn: Conn) -> list[str]:
    """Elections that have results."""
    return [row["election"] for row in await conn.fetch(_ELECTIONS)]


async def changed_kecamatan(conn: Conn, election: str) -> dict[str, str]:
    """Kecamatan whose results changed since they were last screened -> their new fingerprint."""
    now = {r["kecamatan"]: r["fingerprint"] for r in await conn.fetch(_FINGERPRINTS, election)}
    seen = {r["kecamatan"]: r["fingerprint"] for r in await conn.fetch(_STORED, election)}
    # A kecamatan whose results are gone (a rebuild emptied them) is screened empty: it closes.
    gone = {k: "" for k in seen if k not in now and seen[k] != ""}
    return {**gone, **{k: f for k, f in now.items() if seen.get(k) != f}}


async def claim_kecamatan(conn: Conn, election: str, kecamatan: str) -> str | None:
    """Inside a transaction: lock one kecamatan for this instance and return its fingerprint
    now, or None when another instance holds it or has already screened this fingerprint."""
    if not await conn.fetchval(_CLAIM, f"{election}/{kecamatan}"):
        return None
    now: str = await conn.fetchval(_FINGERPRINT, election, kecamatan + ".", kecamatan + "/")
    stored: str | None = await conn.fetchval(_STORED_ONE, election, kecamatan)
    if stored == now or (stored is None and now == ""):
        return None
    return now


def _extra_voters(form: Any) -> int:
    pemilih = form.get("pemilih") if isinstance(form, dict) else None
    if not isinstance(pemilih, dict):
        return 0
    total = 0
    for key in ("pengguna_dptb", "pengguna_dpk"):
        row = pemilih.get(key)
        if isinstance(row, dict) and isinstance(row.get("jumlah"), int):
            total += row["jumlah"]
    return total


async def kecamatan_results(conn: Conn, election: str, kecamatan: str) -> list[TpsResult]:
    """The counted results of every contest at every TPS of one kecamatan."""
    rows = await conn.fetch(_RESULTS, election, kecamatan + ".", kecamatan + "/")
    out: list[TpsResult] = []
    for row in rows:
        votes: dict[str, int] = row["votes"]
        sah, tidak_sah = row["suara_sah"], row["suara_tidak_sah"]
        out.append(
            TpsResult(
                contest=row["contest"],
                tps=row["tps"],
                dpt=row["dpt"],
                voters=row["pengguna"] if row["pengguna"] is not None else sah + tidak_sah,
                suara_sah=sah,
                suara_tidak_sah=tidak_sah,
                votes=tuple(sorted(votes.items(), key=lambda kv: int(kv[0][1:]))),
                extra_voters=_extra_voters(row["form"]) if row["pengguna"] is not None else 0,
                version=row["version"],
                operator=row["operator_id"],
                channel=row["channel"],
                received_at=row["received_at"],
            )
        )
    return out


async def open_findings(conn: Conn, election: str, kecamatan: str) -> list[Finding]:
    """The findings of a kecamatan that are open now."""
    return [
        from_row(Finding, row, severity=Severity(row["severity"]), action=Action(row["action"]))
        for row in await conn.fetch(_OPEN, election, kecamatan)
    ]


async def store_run(
    conn: Conn,
    election: str,
    kecamatan: str,
    upserts: Sequence[Finding],
    closed: Sequence[tuple[str, str, str]],
    fingerprint: str,
) -> None:
    """Write one kecamatan's run in one transaction: new and changed findings, closed ones."""
    async with conn.transaction():
        if upserts:
            await conn.executemany(
                _UPSERT,
                [
                    (
                        election,
                        f.contest,
                        f.tps,
                        f.code,
                        kecamatan,
                        f.severity.value,
                        f.action.value,
                        f.value,
                        f.reference,
                        f.pesan,
                        f.message,
                    )
                    for f in upserts
                ],
            )
        if closed:
            await conn.executemany(
                _CLOSE, [(election, contest, tps, code) for contest, tps, code in closed]
            )
        await conn.execute(_STATE, election, kecamatan, fingerprint)


async def open_counts(conn: Conn) -> list[tuple[str, str, int]]:
    """(code, severity, open findings) over every election."""
    return [(r["code"], r["severity"], r["n"]) for r in await conn.fetch(_OPEN_BY_CODE)]


_HOLD_STATE = """
SELECT contest, tps, submission_id, hold FROM tps_results
WHERE election = $1 AND tps >= $2 AND tps < $3
"""


async def hold_state(
    conn: Conn, election: str, kecamatan: str
) -> dict[tuple[str, str], tuple[UUID, str]]:
    """(contest, tps) -> (counted submission id, hold) for one kecamatan's results."""
    rows = await conn.fetch(_HOLD_STATE, election, kecamatan + ".", kecamatan + "/")
    return {(r["contest"], r["tps"]): (r["submission_id"], r["hold"]) for r in rows}
