"""The quick count's SQL for the CLI: samples drawn, their TPS, and whether results arrived."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson

from deskpemilu.quickcount.design import DESIGN, SAMPLE_ORDER, Sample


@dataclass(frozen=True)
class StoredSample:
    """A sample as kept in quickcount_samples."""

    id: int
    election: str
    seed: int
    size: int
    drawn_at: datetime
    drawn_by: str
    forced: bool
    results_at_draw: int


async def results_counted(conn: asyncpg.Connection, election: str) -> int:
    """How many TPS results of the election are counted (any contest)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM tps_results WHERE election = $1", election
    )
    return count


async def store_sample(
    conn: asyncpg.Connection,
    sample: Sample,
    *,
    drawn_by: str,
    results_at_draw: int,
    forced: bool,
    reason: str = "",
) -> StoredSample:
    """Keep the sample as the election's current one (the previous stays, not current)."""
    kecamatan = {code: ".".join(code.split(".")[:3]) for code in sample.tps}
    async with conn.transaction():
        await conn.execute(
            "UPDATE quickcount_samples SET current = false WHERE election = $1 AND current",
            sample.election,
        )
        row = await conn.fetchrow(
            """INSERT INTO quickcount_samples
                   (election, seed, size, design, sample_order, allocation, drawn_by,
                    results_at_draw, forced, reason)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
               RETURNING id, drawn_at""",
            sample.election, sample.seed, sample.size, DESIGN, SAMPLE_ORDER,
            orjson.dumps(dict(sorted(sample.allocation.items()))).decode(), drawn_by,
            results_at_draw, forced, reason,
        )  # fmt: skip
        assert row is not None
        await conn.copy_records_to_table(
            "quickcount_sample_tps",
            records=[(row["id"], code, kecamatan[code]) for code in sample.tps],
            columns=["sample_id", "tps", "kecamatan"],
        )
        # The api drops its cached answers and dashboards re-read (delivered at commit).
        await conn.execute(
            "SELECT pg_notify('deskpemilu_results', $1)",
            orjson.dumps({"election": sample.election, "quickcount_sample": row["id"]}).decode(),
        )
    return StoredSample(
        row["id"], sample.election, sample.seed, sample.size, row["drawn_at"], drawn_by, forced,
        results_at_draw,
    )  # fmt: skip


async def current_sample_tps(conn: asyncpg.Connection, election: str) -> list[str]:
    """TPS codes of the election's current sample, sorted (empty without a sample)."""
    rows = await conn.fetch(
        """SELECT t.tps FROM quickcount_sample_tps t
           JOIN quickcount_samples s ON s.id = t.sample_id
           WHERE s.election = $1 AND s.current ORDER BY t.tps""",
        election,
    )
    return [r["tps"] for r in rows]


async def area_names_of(conn: asyncpg.Connection, tps: Sequence[str]) -> dict[str, str]:
    """Names of the kecamatan and desa holding the given TPS, by code."""
    codes = {c.rsplit(".", 1)[0] for c in tps} | {".".join(c.split(".")[:3]) for c in tps}
    rows = await conn.fetch(
        "SELECT code, name FROM areas WHERE code = ANY($1::text[])", list(codes)
    )
    return {r["code"]: r["name"] for r in rows}
