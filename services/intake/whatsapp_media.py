"""WhatsApp image messages: fetch the bytes from the Cloud API, link them to a TPS, store them.

Media are fetched as Meta documents: GET {WHATSAPP_API_BASE}/{media-id} with the access token
gives a short-lived URL, and GET of that URL with the same token gives the bytes. The photo is
linked by its caption when the caption names the contest and TPS (the text forms' parser),
else to the sender's latest form within INTAKE_PHOTO_LINK_WINDOW_S; otherwise the sender is
asked, in Indonesian, which TPS it belongs to, and nothing is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.intake.parser import parse_photo_caption
from services.intake.photos import PhotoIntake, PhotoTarget, read_back
from services.intake.schemas import IntakeError
from services.intake.settings import IntakeSettings
from shared.errors import BilingualError
from shared.events import Channel, OperatorRef

WHICH_TPS_TEXT = (
    "Foto belum kami simpan karena belum jelas untuk TPS mana. Kirim ulang fotonya dengan "
    "keterangan (caption) jenis pemilihan dan kode TPS, contoh: PPWP 1607011016#001"
)
MEDIA_FAILED_TEXT = (
    "Maaf, foto tidak bisa kami ambil dari WhatsApp. Kirim ulang fotonya sebentar lagi."
)


class MediaUnavailable(Exception):
    """The Cloud API did not give the media's bytes."""


async def fetch_media(settings: IntakeSettings, media_id: str, max_bytes: int) -> bytes:
    """The bytes of one WhatsApp media id (two authenticated GETs)."""
    token = settings.whatsapp_access_token
    if token is None:
        raise MediaUnavailable("WHATSAPP_ACCESS_TOKEN is not set")
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    base = settings.whatsapp_api_base.rstrip("/")
    async with httpx.AsyncClient(timeout=settings.reply_timeout_s) as client:
        try:
            meta = await client.get(f"{base}/{media_id}", headers=headers)
            meta.raise_for_status()
            url = str(meta.json().get("url", ""))
            if not url.startswith(("https://", "http://")):
                raise MediaUnavailable("no media URL in the Cloud API's answer")
            async with client.stream("GET", url, headers=headers) as answer:
                answer.raise_for_status()
                data = b""
                async for chunk in answer.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        break  # the checks refuse it as too large
                return data
        except (httpx.HTTPError, ValueError) as exc:
            raise MediaUnavailable(str(exc)) from exc


@dataclass
class LatestForms:
    """Each operator's latest form through this intake, to link a photo sent without caption."""

    window_s: float
    _latest: dict[str, tuple[PhotoTarget, float]] = field(default_factory=dict)

    def note(self, operator_id: str, target: PhotoTarget) -> None:
        self._latest[operator_id] = (target, time.monotonic())

    def latest(self, operator_id: str) -> PhotoTarget | None:
        found = self._latest.get(operator_id)
        if found is None or time.monotonic() - found[1] > self.window_s:
            return None
        return found[0]


def target_of(
    caption: str, operator_id: str, latest: LatestForms, election_for: Any
) -> PhotoTarget | None:
    """The TPS and contest a photo documents: its caption, else the sender's latest form."""
    parsed = parse_photo_caption(caption) if caption.strip() else None
    recent = latest.latest(operator_id)
    if parsed is not None:
        contest, tps = parsed
        if recent is not None and (recent.contest, recent.tps) == (contest.value, tps):
            return recent  # the caption names the form just sent: link that version
        election = election_for(contest.value)
        if election is not None:
            return PhotoTarget(election, contest.value, tps)
    return recent


async def handle_image(
    settings: IntakeSettings,
    photos: PhotoIntake,
    latest: LatestForms,
    election_for: Any,
    *,
    operator: OperatorRef,
    message: dict[str, Any],
) -> tuple[str, bool]:
    """The reply to one image message and whether a photo was stored.

    Raises IntakeError(503) when the blob store or Kafka did not take it (Meta retries).
    """
    image = message.get("image") or {}
    media_id = str(image.get("id", ""))
    caption = str(image.get("caption", ""))
    target = target_of(caption, operator.id, latest, election_for)
    if target is None:
        return WHICH_TPS_TEXT, False
    if not media_id:
        return MEDIA_FAILED_TEXT, False
    try:
        data = await fetch_media(settings, media_id, photos.limits.max_bytes)
    except MediaUnavailable:
        return MEDIA_FAILED_TEXT, False
    try:
        accepted = await photos.accept(
            operator, data, target, channel=Channel.WHATSAPP, caption=caption
        )
    except IntakeError as exc:
        if exc.status >= 500:
            raise
        return exc.pesan, False
    except BilingualError as exc:  # a refused photo (PhotoError): say why, in Indonesian
        return exc.pesan, False
    return read_back(accepted.target), True
