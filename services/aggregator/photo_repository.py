"""SQL of the photo recorder: photos, their links to TPS, and the PHOTO_REUSED anomaly."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.events import PhotoReceived

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

REUSE_CODE = "PHOTO_REUSED"


def signed64(phash_hex: str) -> int:
    """A 64-bit pHash (hex) as PostgreSQL's signed bigint."""
    value = int(phash_hex, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True, slots=True)
class ReuseMatch:
    """Another TPS that carries the same or a near-identical image."""

    tps: str
    contest: str
    sha256: str
    distance: int


async def record_photo(
    conn: Conn, event: PhotoReceived, partition: int | None, offset: int | None
) -> bool:
    """Store the image and its link (idempotent by photo id); True when the link is new."""
    await conn.execute(
        """
        INSERT INTO photos (sha256, served_sha256, thumb_sha256, mime, width, height, size,
                            phash, taken_at, gps_lat, gps_lon, first_seen_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (sha256) DO NOTHING
        """,
        event.sha256,
        event.served_sha256,
        event.thumb_sha256,
        event.mime,
        event.width,
        event.height,
        event.size,
        signed64(event.phash),
        event.taken_at,
        event.gps_lat,
        event.gps_lon,
        event.received_at,
    )
    status: str = await conn.execute(
        """
        INSERT INTO photo_links (photo_id, sha256, election, contest, tps, submission_id,
                                 operator_id, channel, caption, received_at, kafka_partition,
                                 kafka_offset)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (photo_id) DO NOTHING
        """,
        event.photo_id,
        event.sha256,
        event.election,
        event.contest,
        event.tps,
        event.submission_id,
        event.operator.id,
        event.channel.value,
        event.caption,
        event.received_at,
        partition,
        offset,
    )
    return status.endswith(" 1")


async def reuse_matches(conn: Conn, event: PhotoReceived, max_bits: int) -> list[ReuseMatch]:
    """Links of the same election at another TPS whose image is the same or within max_bits."""
    rows = await conn.fetch(
        """
        SELECT l.tps, l.contest, p.sha256,
               bit_count((p.phash # $3::bigint)::bit(64))::int AS distance
        FROM photo_links l JOIN photos p ON p.sha256 = l.sha256
        WHERE l.election = $1 AND l.tps <> $2
          AND (p.sha256 = $4 OR bit_count((p.phash # $3::bigint)::bit(64)) <= $5)
        ORDER BY distance, l.tps
        """,
        event.election,
        event.tps,
        signed64(event.phash),
        event.sha256,
        max_bits,
    )
    return [ReuseMatch(r["tps"], r["contest"], r["sha256"], r["distance"]) for r in rows]


async def raise_reuse(
    conn: Conn, election: str, contest: str, tps: str, detail: dict[str, object]
) -> None:
    """One PHOTO_REUSED anomaly per TPS and contest (a replay raises it once)."""
    await conn.execute(
        """
        INSERT INTO anomalies (election, contest, tps, code, severity, detail)
        VALUES ($1, $2, $3, $4, 'warning', $5)
        ON CONFLICT ON CONSTRAINT anomalies_once DO NOTHING
        """,
        election,
        contest,
        tps,
        REUSE_CODE,
        detail,  # the pool's jsonb codec encodes it
    )


async def reset_photos(conn: Conn) -> None:
    """Drop the photo projections (rebuild replays the photos topic after this)."""
    await conn.execute("DELETE FROM anomalies WHERE code = $1", REUSE_CODE)
    await conn.execute("TRUNCATE photo_links, photos")
