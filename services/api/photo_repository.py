"""SQL of the photo reads: the photos of a TPS, which TPS an image documents, the gaps."""

from __future__ import annotations

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def fetch_tps_photos(
    conn: Conn, election: str, contest: str, tps: str
) -> list[asyncpg.Record]:
    """Every photo linked to one TPS and contest, oldest first (GPS is not read here)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT l.photo_id, l.sha256, p.served_sha256, p.thumb_sha256, p.mime, p.width, p.height,
               p.size, p.taken_at, l.submission_id, l.operator_id, l.channel, l.caption,
               l.received_at
        FROM photo_links l JOIN photos p ON p.sha256 = l.sha256
        WHERE l.election = $1 AND l.contest = $2 AND l.tps = $3
        ORDER BY l.received_at, l.photo_id
        """,
        election,
        contest,
        tps,
    )
    return rows


async def fetch_tps_of_blob(conn: Conn, digest: str) -> list[str]:
    """The TPS whose photos are stored (served copy or thumbnail) under this digest."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT l.tps FROM photos p JOIN photo_links l ON l.sha256 = p.sha256
        WHERE p.served_sha256 = $1 OR p.thumb_sha256 = $1
        """,
        digest,
    )
    return [r["tps"] for r in rows]


async def fetch_photo_gaps(conn: Conn, election: str, contest: str) -> list[asyncpg.Record]:
    """Per kecamatan: TPS with a counted result, and those of them with no photo."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT left(r.tps, 8) AS kecamatan,
               count(*)::int AS counted,
               count(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM photo_links l
                   WHERE l.election = r.election AND l.contest = r.contest AND l.tps = r.tps
               ))::int AS without_photo
        FROM tps_results r
        WHERE r.election = $1 AND r.contest = $2
        GROUP BY 1 ORDER BY 1
        """,
        election,
        contest,
    )
    return rows
