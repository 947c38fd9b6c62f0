"""Routes: C.Hasil photos of a TPS, their images, and the TPS still without a photo.

Only authenticated readers whose area covers the TPS get a photo (shared.policy.covers); there
is no public URL. Images are addressed by their SHA-256, so an answer never changes: ETag is the
hash and the browser may keep it (private, immutable). The served copy has no EXIF (no GPS).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from services.api.deps import CurrentViewer, PoolDep, StateDep, contest_or_404, election_or_404
from services.api.errors import ApiError, not_found
from services.api.photo_repository import fetch_photo_gaps, fetch_tps_of_blob, fetch_tps_photos
from services.api.routes_tps import TpsPath, tps_code_or_422
from services.api.schemas import error_responses
from shared.blobstore import BlobSettings, BlobStore, blob_store_from, check_digest
from shared.events import OperatorRef
from shared.policy import covers

# Photos are served only to readers whose area covers the TPS: 403 besides the reads' errors.
router = APIRouter(
    prefix="/v1", tags=["photos"], responses=error_responses(401, 403, 404, 422, 503)
)


class PhotoBlobs:
    """The blob store, opened on first use (the api's lifespan stays as it is)."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._started = False
        self._lock = asyncio.Lock()

    async def get(self) -> BlobStore:
        async with self._lock:
            if not self._started:
                await self.store.start()
                self._started = True
        return self.store


def install_photo_store(app: Any) -> None:
    """Attach the blob store named by BLOB_STORE/BLOB_DIR/S3_* to the app."""
    app.state.photo_blobs = PhotoBlobs(blob_store_from(BlobSettings()))


def _outside(reader: OperatorRef, tps: str) -> ApiError:
    return ApiError(
        403,
        "SCOPE_OUTSIDE",
        f"TPS {tps} di luar wilayah Anda; fotonya tidak bisa dibuka.",
        f"TPS {tps} is outside your area; its photos cannot be opened.",
    )


@router.get("/tps/{election}/{contest}/{tps}/photos")
async def tps_photos(
    election: str, contest: str, tps: TpsPath, state: StateDep, reader: CurrentViewer
) -> dict[str, Any]:
    """The photos of one TPS and contest, each with the submission (version) it documents."""
    contest_or_404(await election_or_404(state, election), contest)
    code = tps_code_or_422(tps)
    if not covers(reader.scope, reader.role, code):
        raise _outside(reader, code)
    async with state.pool.acquire() as conn:
        rows = await fetch_tps_photos(conn, election, contest, code)
    return {
        "election": election,
        "contest": contest,
        "tps": code,
        "photos": [
            {
                "photo_id": str(r["photo_id"]),
                "sha256": r["sha256"],
                "image_url": f"/v1/photos/{r['served_sha256']}",
                "thumb_url": f"/v1/photos/{r['thumb_sha256']}",
                "width": r["width"],
                "height": r["height"],
                "taken_at": r["taken_at"].isoformat() if r["taken_at"] else None,
                "submission_id": str(r["submission_id"]) if r["submission_id"] else None,
                "operator_id": r["operator_id"],
                "channel": r["channel"],
                "caption": r["caption"],
                "received_at": r["received_at"].isoformat(),
            }
            for r in rows
        ],
    }


@router.get(
    "/photos/{digest}",
    responses={200: {"content": {"image/jpeg": {}}}, 304: {"description": "Not modified"}},
)
async def photo_image(
    digest: str, request: Request, pool: PoolDep, reader: CurrentViewer
) -> Response:
    """A served photo or thumbnail (JPEG, no EXIF) by its SHA-256, to readers of its TPS."""
    try:
        check_digest(digest)
    except ValueError as exc:
        raise not_found("Foto", "Photo") from exc
    async with pool.acquire() as conn:
        tps_list = await fetch_tps_of_blob(conn, digest)
    if not tps_list:
        raise not_found("Foto", "Photo")
    if not any(covers(reader.scope, reader.role, tps) for tps in tps_list):
        raise _outside(reader, tps_list[0])
    headers = {"ETag": f'"{digest}"', "Cache-Control": "private, max-age=31536000, immutable"}
    if request.headers.get("if-none-match") == f'"{digest}"':
        return Response(status_code=304, headers=headers)
    blobs: PhotoBlobs = request.app.state.photo_blobs
    data = await (await blobs.get()).get(digest)
    if data is None:
        raise not_found("Berkas foto", "Photo file")
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get("/photos-gaps/{election}/{contest}")
async def photo_gaps(
    election: str, contest: str, state: StateDep, reader: CurrentViewer
) -> dict[str, Any]:
    """Per kecamatan: TPS with a counted result, and how many of them have no photo."""
    contest_or_404(await election_or_404(state, election), contest)
    async with state.pool.acquire() as conn:
        rows = await fetch_photo_gaps(conn, election, contest)
    areas = state.roster.areas
    return {
        "election": election,
        "contest": contest,
        "kecamatan": [
            {
                "code": r["kecamatan"],
                "name": areas[r["kecamatan"]].name if r["kecamatan"] in areas else "",
                "counted": r["counted"],
                "without_photo": r["without_photo"],
            }
            for r in rows
            if covers(reader.scope, reader.role, r["kecamatan"])
            or any(s.startswith(r["kecamatan"] + ".") for s in reader.scope)
        ],
    }
