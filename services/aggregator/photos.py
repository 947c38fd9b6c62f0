"""Photo recorder: links each photo of photos.received.v1 to its TPS in PostgreSQL.

Runs inside the aggregator process with its own consumer group, on the loop it shares with the
incident recorder (`recorder.py`). Every record is stored idempotently (by photo id), so a
redelivered batch or a rebuild's replay links each photo once. A photo whose image (same
SHA-256, or a pHash within NEAR_DUPLICATE_BITS) is already linked to another TPS raises
PHOTO_REUSED on both TPS: one sheet cannot document two TPS.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import ConsumerRecord
from pydantic import TypeAdapter

from services.aggregator.photo_repository import (
    Conn,
    ReuseMatch,
    raise_reuse,
    record_photo,
    reset_photos,
    reuse_matches,
)
from services.aggregator.recorder import decode_or_skip, replay_topic, run_recorder
from shared.events import PhotoReceived
from shared.photos import NEAR_DUPLICATE_BITS

SERVICE = "aggregator-photos"
photo_adapter: TypeAdapter[PhotoReceived] = TypeAdapter(PhotoReceived)


def reuse_detail(
    event: PhotoReceived, match: ReuseMatch
) -> tuple[dict[str, object], dict[str, object]]:
    """The anomaly details for the new photo's TPS and for the other TPS (pure)."""
    kind = "same_bytes" if match.sha256 == event.sha256 else "near_identical"
    mine: dict[str, object] = {
        "other_tps": match.tps,
        "sha256": event.sha256,
        "other_sha256": match.sha256,
        "distance": match.distance,
        "kind": kind,
    }
    theirs: dict[str, object] = {
        "other_tps": event.tps,
        "sha256": match.sha256,
        "other_sha256": event.sha256,
        "distance": match.distance,
        "kind": kind,
    }
    return mine, theirs


async def apply_photo(
    conn: Conn, event: PhotoReceived, partition: int | None = None, offset: int | None = None
) -> None:
    """Record one photo and raise the reuse anomalies it causes, in one transaction."""
    async with conn.transaction():
        await record_photo(conn, event, partition, offset)
        for match in await reuse_matches(conn, event, NEAR_DUPLICATE_BITS):
            mine, theirs = reuse_detail(event, match)
            await raise_reuse(conn, event.election, event.contest, event.tps, mine)
            await raise_reuse(conn, event.election, match.contest, match.tps, theirs)


def decode(record: ConsumerRecord[bytes, bytes]) -> PhotoReceived | None:
    """The event of a record, None (logged) for a record that is no photo event."""
    return decode_or_skip(photo_adapter, record, "photo")


async def apply_photos(conn: Conn, records: list[ConsumerRecord[bytes, bytes]]) -> int:
    """Record each photo of a batch, one transaction per photo; the number of photos."""
    applied = 0
    for record in records:
        event = decode(record)
        if event is not None:
            await apply_photo(conn, event, record.partition, record.offset)
            applied += 1
    return applied


async def run_photo_recorder(
    bootstrap: str, topic: str, group_id: str, pool: asyncpg.Pool, stop: asyncio.Event
) -> None:
    """Consume the photos topic until stop is set (Kafka commits after each batch)."""
    await run_recorder(bootstrap, topic, group_id, pool, stop, service=SERVICE, apply=apply_photos)


async def replay_photos(bootstrap: str, topic: str, group_id: str, conn: Conn) -> int:
    """Drop the photo projections and relink every photo from the topic's start to its end.

    The recorder's group offsets are moved to the ends, so it resumes after the replay.
    """
    await reset_photos(conn)
    return await replay_topic(bootstrap, topic, group_id, conn, apply_photos)
