"""Photos end to end in-process: upload -> blob store + Kafka -> recorder -> PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.aggregator.photos import apply_photo, replay_photos
from shared.db import connect
from shared.events import PhotoReceived
from tests.integration.test_intake_app import (
    OPERATOR,
    OPERATOR_PHONE,
    TPS,
    TPS_OTHER_KECAMATAN,
    Harness,
    read_topic,
    roster_database,
    start_harness,
    topic_prefix,
)
from tests.photo_fixtures import form_photo
from tests.s3server import S3Server
from tests.webhooks import FakeGraph, graph_stand_in, image_payload, whatsapp_payload

pytestmark = pytest.mark.integration
__all__ = ["roster_database", "topic_prefix"]

TPS_NEIGHBOUR = "16.07.01.1016.002"


@pytest.fixture
async def photo_intake(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    roster_database: str,
    topic_prefix: str,
    fake_graph: FakeGraph,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    async for harness in start_harness(
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        database_url=roster_database,
        prefix=topic_prefix,
        graph=fake_graph,
        BLOB_STORE="fs",
        BLOB_DIR=str(tmp_path / "blobs"),
    ):
        yield harness


def _blob_files(harness: Harness) -> list[Path]:
    root = Path(str(harness.app.state.photos.store.root))
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _upload(harness: Harness, data: bytes, tps: str = TPS, **extra: str) -> Any:
    return await harness.client.post(
        "/v1/photos",
        headers=await harness.auth(),
        files={"photo": ("chasil.jpg", data, "image/jpeg")},
        data={"election": "pemilu-2024", "contest": "PPWP", "tps": tps, **extra},
    )


async def _photo_events(harness: Harness) -> list[PhotoReceived]:
    records = await read_topic(harness.bootstrap, harness.settings.topics.photos)
    return [PhotoReceived.model_validate_json(r.value) for r in records]


async def test_an_upload_is_stored_before_202_and_its_metadata_is_on_kafka(
    photo_intake: Harness,
) -> None:
    data = form_photo(11)
    response = await _upload(photo_intake, data)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["tps"] == TPS and body["pesan"] == "foto C.Hasil TPS 001 (PPWP) diterima"
    store = photo_intake.app.state.photos.store
    assert await store.get(body["sha256"]) == data
    [event] = await _photo_events(photo_intake)
    assert event.sha256 == body["sha256"] and event.operator.id == OPERATOR.id
    assert event.gps_lat is not None and event.taken_at is not None
    assert await store.exists(event.served_sha256) and await store.exists(event.thumb_sha256)
    assert len(event.model_dump_json()) < 3000  # metadata only: the bytes are not on Kafka

    again = await _upload(photo_intake, data)
    assert again.status_code == 202
    assert again.json()["photo_id"] == body["photo_id"]  # same bytes, same photo
    assert len(_blob_files(photo_intake)) == 3  # original, served copy, thumbnail: once


async def test_a_heic_upload_is_kept_as_sent_and_served_as_jpeg(photo_intake: Harness) -> None:
    data = form_photo(13, fmt="HEIF")
    response = await photo_intake.client.post(
        "/v1/photos",
        headers=await photo_intake.auth(),
        files={"photo": ("IMG_0001.HEIC", data, "application/octet-stream")},
        data={"election": "pemilu-2024", "contest": "PPWP", "tps": TPS},
    )
    assert response.status_code == 202, response.text
    [event] = await _photo_events(photo_intake)
    assert event.mime == "image/heic" and event.taken_at is not None
    store = photo_intake.app.state.photos.store
    assert await store.get(event.sha256) == data  # the original, as sent
    for digest in (event.served_sha256, event.thumb_sha256):
        served = await store.get(digest)
        assert served is not None and served[:3] == b"\xff\xd8\xff"  # JPEG


async def test_truncated_and_non_image_uploads_get_a_bilingual_4xx_and_nothing_stored(
    photo_intake: Harness,
) -> None:
    data = form_photo(12)
    for bad, status, code in (
        (data[: len(data) // 3], 422, "PHOTO_DAMAGED"),
        (b"PPWP TPS 001 01=120 02=250", 415, "PHOTO_NOT_IMAGE"),
    ):
        response = await _upload(photo_intake, bad)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["code"] == code and body["pesan"] and body["message"]
    outside = await _upload(photo_intake, data, tps=TPS_OTHER_KECAMATAN)
    assert outside.status_code == 403 and outside.json()["code"] == "SCOPE_OUTSIDE"
    missing = await photo_intake.client.post(
        "/v1/photos",
        headers=await photo_intake.auth(),
        files={"photo": ("chasil.jpg", data, "image/jpeg")},
    )
    assert missing.status_code == 422 and missing.json()["code"] == "PHOTO_TARGET_MISSING"
    unauthenticated = await photo_intake.client.post(
        "/v1/photos", files={"photo": ("chasil.jpg", data, "image/jpeg")}
    )
    assert unauthenticated.status_code == 401
    assert _blob_files(photo_intake) == []
    assert await _photo_events(photo_intake) == []


async def test_the_recorder_links_photos_and_a_reused_photo_raises_the_anomaly(
    photo_intake: Harness,
) -> None:
    sheet = form_photo(13)
    for tps in (TPS, TPS_NEIGHBOUR):  # the same sheet sent for two TPS
        assert (await _upload(photo_intake, sheet, tps=tps)).status_code == 202
    assert (await _upload(photo_intake, form_photo(14), tps=TPS)).status_code == 202
    events = await _photo_events(photo_intake)
    assert len(events) == 3
    conn = await connect(photo_intake.database_url)
    try:
        for event in events + events:  # a redelivery links nothing twice
            await apply_photo(conn, event)
        assert await conn.fetchval("SELECT count(*) FROM photo_links") == 3
        assert await conn.fetchval("SELECT count(*) FROM photos") == 2
        reused = await conn.fetch(
            "SELECT tps, detail->>'other_tps' AS other FROM anomalies "
            "WHERE code = 'PHOTO_REUSED' ORDER BY tps"
        )
        assert [(r["tps"], r["other"]) for r in reused] == [
            (TPS, TPS_NEIGHBOUR),
            (TPS_NEIGHBOUR, TPS),
        ]
        replayed = await replay_photos(
            photo_intake.bootstrap, photo_intake.settings.topics.photos, "photos-test", conn
        )
        assert replayed == 3
        assert await conn.fetchval("SELECT count(*) FROM photo_links") == 3
        assert (
            await conn.fetchval("SELECT count(*) FROM anomalies WHERE code = 'PHOTO_REUSED'") == 2
        )
    finally:
        await conn.close()


@pytest.fixture
async def wa_intake(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    roster_database: str,
    topic_prefix: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[Harness, FakeGraph]]:
    with graph_stand_in() as graph:
        async for harness in start_harness(
            monkeypatch,
            kafka_bootstrap=kafka_bootstrap,
            database_url=roster_database,
            prefix=topic_prefix,
            graph=graph,
            BLOB_STORE="fs",
            BLOB_DIR=str(tmp_path / "blobs"),
        ):
            yield harness, graph


async def test_a_whatsapp_image_with_caption_is_fetched_stored_and_read_back(
    wa_intake: tuple[Harness, FakeGraph],
) -> None:
    harness, graph = wa_intake
    data = form_photo(21)
    graph.media["media-1"] = data
    response = await harness.whatsapp(
        image_payload(OPERATOR_PHONE, "media-1", "PPWP 1607011016#001", "wamid.img1")
    )
    assert response.status_code == 200 and response.json()["published"] == 1
    [event] = await _photo_events(harness)
    assert (event.tps, event.contest, event.channel.value) == (TPS, "PPWP", "whatsapp")
    assert await harness.app.state.photos.store.get(event.sha256) == data
    assert graph.media_gets == ["/v21.0/media-1", "/lookaside/media-1"]
    [reply] = await graph.wait_for_texts(OPERATOR_PHONE, 1)
    assert reply == "foto C.Hasil TPS 001 (PPWP) diterima"
    assert event.submission_id is None  # no form from this sender yet: linked to the TPS

    text = "PPWP#1607011016001#120#250#80#450#5"
    await harness.whatsapp(whatsapp_payload(OPERATOR_PHONE, text, "wamid.t-cap"))
    graph.media["media-1b"] = form_photo(23)
    await harness.whatsapp(
        image_payload(OPERATOR_PHONE, "media-1b", "PPWP 1607011016#001", "wamid.img1b")
    )
    second = (await _photo_events(harness))[-1]
    assert second.tps == TPS and second.submission_id is not None  # the version just sent


async def test_a_whatsapp_image_without_caption_follows_the_latest_form_or_asks(
    wa_intake: tuple[Harness, FakeGraph],
) -> None:
    harness, graph = wa_intake
    graph.media["media-2"] = form_photo(22)
    graph.media["media-3"] = b"not a photo at all"
    asked = await harness.whatsapp(image_payload(OPERATOR_PHONE, "media-2", None, "wamid.i2"))
    assert asked.json()["published"] == 0
    [question] = await graph.wait_for_texts(OPERATOR_PHONE, 1)
    assert "TPS mana" in question and "PPWP 1607011016#001" in question
    assert graph.media_gets == []  # nothing fetched, nothing stored

    text = "PPWP#1607011016002#120#250#80#450#5"
    await harness.whatsapp(whatsapp_payload(OPERATOR_PHONE, text, "wamid.t1"))
    linked = await harness.whatsapp(image_payload(OPERATOR_PHONE, "media-2", "", "wamid.i3"))
    assert linked.json()["published"] == 1
    [event] = await _photo_events(harness)
    assert event.tps == "16.07.01.1016.002" and event.submission_id is not None

    refused = await harness.whatsapp(image_payload(OPERATOR_PHONE, "media-3", None, "wamid.i4"))
    assert refused.json()["published"] == 0
    texts = await graph.wait_for_texts(OPERATOR_PHONE, 4)
    assert "bukan foto" in texts[-1]


async def test_an_upload_goes_to_the_s3_store_when_configured(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    roster_database: str,
    topic_prefix: str,
    fake_graph: FakeGraph,
    s3_server: S3Server,
) -> None:
    async for harness in start_harness(
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        database_url=roster_database,
        prefix=topic_prefix,
        graph=fake_graph,
        BLOB_STORE="s3",
        S3_ENDPOINT_URL=s3_server.endpoint_url,
        S3_ACCESS_KEY=s3_server.access_key,
        S3_SECRET_KEY=s3_server.secret_key,
        S3_BUCKET="deskpemilu-photos",
    ):
        data = form_photo(51)
        response = await _upload(harness, data)
        assert response.status_code == 202, response.text
        [event] = await _photo_events(harness)
        store = harness.app.state.photos.store
        assert await store.get(event.sha256) == data
        assert await store.exists(event.served_sha256)
