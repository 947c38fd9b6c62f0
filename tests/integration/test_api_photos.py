"""The api's photo reads: scoped readers only, images by hash (ETag, immutable), the gaps."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from PIL import Image

from services.aggregator.photos import apply_photo
from shared.blobstore import FilesystemBlobStore
from shared.db import connect
from shared.events import Channel, OperatorRef, PhotoReceived, Role, photo_id_for, utcnow
from shared.photos import inspect_photo
from tests.integration.test_api import ELECTION, VIEWER, Seeded, seeded, serve_api, token_for
from tests.photo_fixtures import form_photo

pytestmark = pytest.mark.integration
__all__ = ["seeded"]


async def _store_photo(url: str, blobs: FilesystemBlobStore, tps: str, seed: int) -> PhotoReceived:
    data = form_photo(seed)
    photo = inspect_photo(data)
    for blob in (data, photo.served, photo.thumbnail):
        await blobs.put(blob)
    event = PhotoReceived(
        photo_id=photo_id_for(photo.sha256, ELECTION, "PPWP", tps),
        received_at=utcnow(),
        channel=Channel.API,
        operator=OperatorRef(id="op-test", role=Role.OPERATOR, scope=(tps[:8],)),
        election=ELECTION,
        contest="PPWP",
        tps=tps,
        sha256=photo.sha256,
        served_sha256=await blobs.put(photo.served),
        thumb_sha256=await blobs.put(photo.thumbnail),
        mime=photo.mime,
        width=photo.width,
        height=photo.height,
        size=photo.size,
        phash=photo.phash,
        taken_at=photo.taken_at,
        gps_lat=photo.gps_lat,
        gps_lon=photo.gps_lon,
    )
    conn = await connect(url)
    try:
        await apply_photo(conn, event)
    finally:
        await conn.close()
    return event


async def test_photos_are_served_to_scoped_readers_by_hash_and_gaps_are_counted(
    seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOB_STORE", "fs")
    monkeypatch.setenv("BLOB_DIR", str(tmp_path / "blobs"))
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    await blobs.start()
    conn = await connect(seeded.url)
    try:
        counted = [
            r["tps"]
            for r in await conn.fetch(
                "SELECT tps FROM tps_results WHERE election = $1 AND contest = 'PPWP' ORDER BY tps",
                ELECTION,
            )
        ]
    finally:
        await conn.close()
    tps = counted[0]
    event = await _store_photo(seeded.url, blobs, tps, seed=31)
    kecamatan = tps[:8]
    reader = token_for(Role.VIEWER, scope=(kecamatan,))
    async with serve_api(seeded.url) as api:
        async with api.client(token=VIEWER) as unscoped:  # a viewer with no area sees no photo
            assert (await unscoped.get(f"/v1/photos/{event.served_sha256}")).status_code == 403
        async with api.client(token=reader) as client:
            listed = await client.get(f"/v1/tps/{ELECTION}/PPWP/{tps}/photos")
            assert listed.status_code == 200, listed.text
            [photo] = listed.json()["photos"]
            assert photo["sha256"] == event.sha256 and "gps" not in str(photo)
            image = await client.get(photo["image_url"])
            assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
            assert image.headers["etag"] == f'"{event.served_sha256}"'
            assert "immutable" in image.headers["cache-control"]
            assert "private" in image.headers["cache-control"]
            assert not Image.open(io.BytesIO(image.content)).getexif()  # no GPS leaves the desk
            again = await client.get(
                photo["image_url"], headers={"If-None-Match": image.headers["etag"]}
            )
            assert again.status_code == 304
            thumb = await client.get(photo["thumb_url"])
            assert (
                thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == 320
            )
            # The original (with its EXIF) has no URL at all.
            assert (await client.get(f"/v1/photos/{event.sha256}")).status_code == 404
            assert (await client.get(f"/v1/photos/{uuid.uuid4().hex * 2}")).status_code == 404
            gaps = (await client.get(f"/v1/photos-gaps/{ELECTION}/PPWP")).json()["kecamatan"]
            by_code = {g["code"]: g for g in gaps}
            assert set(by_code) == {kecamatan}  # only the reader's own area
            expected = sum(1 for t in counted if t[:8] == kecamatan) - 1
            assert by_code[kecamatan]["without_photo"] == expected
            assert by_code[kecamatan]["counted"] == expected + 1
        async with api.client(token=token_for(Role.ADMIN)) as admin:
            everywhere = (await admin.get(f"/v1/photos-gaps/{ELECTION}/PPWP")).json()
            assert {g["code"] for g in everywhere["kecamatan"]} == {t[:8] for t in counted}
        async with api.client(token=None) as anonymous:
            assert (await anonymous.get(photo["image_url"])).status_code == 401
            assert (await anonymous.get(f"/v1/tps/{ELECTION}/PPWP/{tps}/photos")).status_code == 401
        elsewhere = token_for(Role.VIEWER, scope=("16.07.09",))
        async with api.client(token=elsewhere) as outsider:
            assert (await outsider.get(photo["image_url"])).status_code == 403
            listed_out = await outsider.get(f"/v1/tps/{ELECTION}/PPWP/{tps}/photos")
            assert listed_out.status_code == 403 and listed_out.json()["pesan"]
