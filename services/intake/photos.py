"""Taking one photo from any channel: check, store the bytes, publish the metadata, read back.

The order is what makes a 202 true: the photo is checked (nothing stored when refused), the
original, the served copy and the thumbnail are stored durably in the blob store, and only then
is the PhotoReceived event published (acks=all). The same bytes for the same TPS and contest are
one photo: the id comes from the hash, the blobs are content-addressed, the recorder upserts.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.intake import metrics
from services.intake.publisher import KafkaUnavailable, Publisher
from services.intake.schemas import IntakeError
from services.intake.submissions import kafka_unavailable, scope_error
from shared.blobstore import BlobStore, sha256_hex
from shared.codec import encode, key_for_tps
from shared.events import Channel, OperatorRef, PhotoReceived, photo_id_for, utcnow
from shared.photos import SERVED_MIME, InspectedPhoto, PhotoLimits, inspect_photo


@dataclass(frozen=True, slots=True)
class PhotoTarget:
    """What a photo documents: a TPS's contest, and the submission when known."""

    election: str
    contest: str
    tps: str
    submission_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PhotoAccepted:
    """The outcome a channel answers with."""

    photo_id: uuid.UUID
    sha256: str
    received_at: datetime
    target: PhotoTarget


def blob_unavailable(retry_after: int) -> IntakeError:
    """503 when the blob store did not take the bytes: nothing is stored, send again."""
    return IntakeError(
        503,
        "BLOB_STORE_UNAVAILABLE",
        "Penyimpanan foto sedang tidak bisa dihubungi; foto BELUM tersimpan. Kirim ulang.",
        "The photo store cannot be reached; the photo was NOT stored. Send it again.",
        retry_after=retry_after,
    )


def read_back(target: PhotoTarget) -> str:
    """The operator's confirmation, in Indonesian: 'foto C.Hasil TPS 003 diterima'."""
    number = target.tps.rsplit(".", 1)[-1]
    return f"foto C.Hasil TPS {number} ({target.contest}) diterima"


class PhotoIntake:
    """Checks, stores and publishes photos; the routes and the WhatsApp webhook share it."""

    def __init__(
        self,
        store: BlobStore,
        publisher: Publisher,
        *,
        topic: str,
        limits: PhotoLimits,
        retry_after_s: int,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.topic = topic
        self.limits = limits
        self.retry_after_s = retry_after_s

    def inspect(self, data: bytes) -> InspectedPhoto:
        """The checks alone (PhotoError 4xx when refused); CPU-bound, call in a thread."""
        return inspect_photo(data, self.limits)

    async def accept(
        self,
        operator: OperatorRef,
        data: bytes,
        target: PhotoTarget,
        *,
        channel: Channel,
        caption: str = "",
    ) -> PhotoAccepted:
        """Check, store durably, publish; the answer only once all three are done."""
        refused = scope_error(operator, target.tps)
        if refused is not None:
            raise refused
        photo = await asyncio.to_thread(self.inspect, data)
        try:
            await asyncio.gather(
                self.store.put(data, photo.mime),
                self.store.put(photo.served, SERVED_MIME),
                self.store.put(photo.thumbnail, SERVED_MIME),
            )
        except Exception as exc:  # OSError, or botocore's errors (no common base with it)
            raise blob_unavailable(self.retry_after_s) from exc
        event = PhotoReceived(
            photo_id=photo_id_for(photo.sha256, target.election, target.contest, target.tps),
            received_at=utcnow(),
            channel=channel,
            operator=operator,
            election=target.election,
            contest=target.contest,
            tps=target.tps,
            submission_id=target.submission_id,
            sha256=photo.sha256,
            served_sha256=sha256_hex(photo.served),
            thumb_sha256=sha256_hex(photo.thumbnail),
            mime=photo.mime,
            width=photo.width,
            height=photo.height,
            size=photo.size,
            phash=photo.phash,
            taken_at=photo.taken_at,
            gps_lat=photo.gps_lat,
            gps_lon=photo.gps_lon,
            caption=caption[:500],
        )
        try:
            await self.publisher.publish(self.topic, key_for_tps(target.tps), encode(event))
        except KafkaUnavailable as exc:
            raise kafka_unavailable(self.retry_after_s) from exc
        metrics.PHOTOS.labels(channel.value).inc()
        return PhotoAccepted(event.photo_id, photo.sha256, event.received_at, target)
