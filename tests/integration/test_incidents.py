"""Incidents and desk alerts against the real broker and a scratch database with the roster.

The intake in-process (its test harness), the aggregator's incident recorder fed from the real
topic, the api in-process, one alert pass of the screener with the coordinators' WhatsApp
stand-in (tests/webhooks.py).
"""

# ruff: noqa: F811  # the intake harness's fixtures are imported, then requested by name
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.aggregator.incidents import apply_incidents, replay_incidents
from services.api.app import create_app as create_api
from services.api.settings import ApiSettings
from services.screener import metrics as screener_metrics
from services.screener.alerting import KafkaEnds, alert_pass, make_outbox
from services.screener.settings import ScreenerSettings
from shared.auth import issue_token
from shared.db import connect, create_pool
from shared.events import (
    IncidentReported,
    IncidentUpdated,
    OperatorRef,
    Role,
    incident_adapter,
    incident_id_for,
)
from shared.incidents import IncidentCategory, IncidentSeverity
from shared.notify import DeskChanged
from tests.integration.test_intake_app import (  # noqa: F401  # fixtures used by name
    OPERATOR,
    OPERATOR_PHONE,
    TPS_OTHER_KECAMATAN,
    Harness,
    intake,
    read_topic,
    roster_database,
    topic_prefix,
)
from tests.procs import TEST_TOKEN_SECRET
from tests.webhooks import FakeGraph, whatsapp_payload

pytestmark = pytest.mark.integration

TPS = "16.07.01.1016.001"
COORDINATOR = "628119990001"
CAMAT = OperatorRef(id="camat-16.07.01", role=Role.CAMAT, scope=("16.07.01",), name="Camat Uji")
CAMAT_OTHER = OperatorRef(id="camat-16.07.02", role=Role.CAMAT, scope=("16.07.02",), name="Lain")
ADMIN = OperatorRef(id="admin-uji", role=Role.ADMIN, scope=(), name="Admin")
VIEWER = OperatorRef(id="viewer-uji", role=Role.VIEWER, scope=(), name="Pemantau")


def bearer(person: OperatorRef) -> dict[str, str]:
    token, _ = issue_token(TEST_TOKEN_SECRET, person, ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def incident_records(h: Harness) -> list[Any]:
    return await read_topic(h.bootstrap, h.settings.topics.incidents)


async def record_all(h: Harness) -> int:
    """Feed the whole incidents topic through the recorder, as the aggregator does."""
    conn = await connect(h.database_url)
    try:
        return await apply_incidents(conn, await incident_records(h))
    finally:
        await conn.close()


@pytest.fixture
async def api(intake: Harness, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The api in-process on the same database and topics as the intake harness."""
    monkeypatch.setenv("API_SSE_COALESCE_S", "0")
    app = create_api(ApiSettings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


async def test_whatsapp_incident_published_read_back_recorded_once(intake: Harness) -> None:
    text = "KEJADIAN#1607011016001#ricuh#Dua kelompok saksi bertengkar, penghitungan berhenti"
    payload = whatsapp_payload(OPERATOR_PHONE, text, "wamid.KEJADIAN1")
    response = await intake.whatsapp(payload)
    assert response.status_code == 200
    assert response.json() == {"received": 1, "published": 1}
    (record,) = await incident_records(intake)
    event = incident_adapter.validate_json(record.value)
    assert isinstance(event, IncidentReported)
    assert event.area == TPS
    assert event.category is IncidentCategory.KERICUHAN
    assert event.severity is IncidentSeverity.CRITICAL
    assert event.incident_id == incident_id_for(OPERATOR.id, "whatsapp:wamid.KEJADIAN1")
    assert record.key == str(event.incident_id).encode()
    (readback,) = await intake.graph.wait_for_texts(OPERATOR_PHONE, 1)
    assert "Laporan kejadian diterima: Kericuhan/konflik (tingkat KRITIS)" in readback
    assert str(event.incident_id)[:8] in readback
    # Meta delivers the same payload again: no second record, no second read-back.
    assert (await intake.whatsapp(payload)).json() == {"received": 1, "published": 1}
    await asyncio.sleep(0.3)
    assert len(await incident_records(intake)) == 1
    assert len(intake.graph.texts_to(OPERATOR_PHONE)) == 1
    # Recorded once, however often the batch is redelivered; the NOTIFY reaches the dashboards.
    listener = await connect(intake.database_url)
    notified: list[str] = []
    await listener.add_listener(DeskChanged.CHANNEL, lambda *a: notified.append(str(a[3])))
    try:
        assert await record_all(intake) == 1
        assert await record_all(intake) == 0
        await asyncio.sleep(0.2)
        assert len(notified) == 1
        assert DeskChanged.model_validate_json(notified[0]).kecamatan == ("16.07.01",)
        row = await listener.fetchrow("SELECT * FROM incidents")
        assert row is not None
        assert (row["tps"], row["desa_code"], row["kecamatan_code"]) == (
            TPS,
            "16.07.01.1016",
            "16.07.01",
        )
        assert row["status"] == "open"
    finally:
        await listener.close()


async def test_bad_incident_texts_get_polite_bilingual_replies_nothing_published(
    intake: Harness,
) -> None:
    texts = [
        "KEJADIAN#1607011016999#logistik#TPS ini tidak ada",  # unknown TPS
        "KEJADIAN#1607011016001#gempa#kategori tidak dikenal",  # unknown category
        "KEJADIAN#1607011016001#lainnya#" + "x" * 1200,  # text too long
        f"KEJADIAN#{TPS_OTHER_KECAMATAN}#logistik#di luar wilayah",  # outside the scope
        "KEJADIAN#16070110#logistik#kode terpotong",  # unreadable code
    ]
    for n, text in enumerate(texts):
        await intake.whatsapp(whatsapp_payload(OPERATOR_PHONE, text, f"wamid.BAD{n}"))
    replies = await intake.graph.wait_for_texts(OPERATOR_PHONE, len(texts))
    assert all(r.startswith("Maaf, laporan belum dicatat.") for r in replies)
    joined = "\n".join(replies)
    for expected in (
        "tidak ada dalam daftar TPS/desa",
        "is not a TPS or desa",
        "Kategori 'gempa' tidak dikenal",
        "Unknown category",
        "Uraian terlalu panjang",
        "di luar wilayah tugas",
        "outside your assigned area",
        "tidak terbaca",
    ):
        assert expected in joined, expected
    assert await incident_records(intake) == []


async def test_json_route_202_idempotent_and_coded_refusals(intake: Harness) -> None:
    headers = await intake.auth()
    body = {"area": "1607011016", "category": "Surat suara", "text": "Surat suara DPD kurang 15"}
    first = await intake.client.post(
        "/v1/incidents", json=body, headers={**headers, "Idempotency-Key": "inc-1"}
    )
    assert first.status_code == 202, first.text
    assert first.json()["area"] == "16.07.01.1016"
    assert first.json()["category"] == "logistik"
    assert first.json()["severity"] == "high"
    again = await intake.client.post(
        "/v1/incidents", json=body, headers={**headers, "Idempotency-Key": "inc-1"}
    )
    assert again.status_code == 202
    assert again.json() == first.json()
    reused = await intake.client.post(
        "/v1/incidents",
        json={**body, "text": "lain"},
        headers={**headers, "Idempotency-Key": "inc-1"},
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    cases = [
        ({**body, "area": "16.07.01.1016.999"}, 422, "INCIDENT_UNKNOWN_AREA"),
        ({**body, "area": "16.07.0x.1016"}, 422, "INCIDENT_AREA_CODE"),
        ({**body, "area": "abc"}, 422, "INVALID_REQUEST"),
        ({**body, "category": "gempa"}, 422, "INCIDENT_UNKNOWN_CATEGORY"),
        ({**body, "text": "x" * 1001}, 422, "INCIDENT_TOO_LONG"),
        ({**body, "area": TPS_OTHER_KECAMATAN}, 403, "SCOPE_OUTSIDE"),
    ]
    for case, status, code in cases:
        response = await intake.client.post("/v1/incidents", json=case, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), case
        assert response.json()["pesan"] and response.json()["message"]
    assert (await intake.client.post("/v1/incidents", json=body)).status_code == 401
    viewer = bearer(VIEWER)
    assert (await intake.client.post("/v1/incidents", json=body, headers=viewer)).status_code == 403
    assert len(await incident_records(intake)) == 1


async def test_feed_counts_actions_export_and_replay(
    intake: Harness, api: httpx.AsyncClient
) -> None:
    headers = await intake.auth()
    reports = [
        ({"area": TPS, "category": "petugas", "text": "KPPS kurang dua orang"}, "k1"),
        ({"area": TPS, "category": "psu", "text": "Warga menuntut PSU"}, "k2"),
        ({"area": "16.07.01.1016", "category": "banjir", "text": "Jalan ke desa tergenang"}, "k3"),
    ]
    ids = []
    for body, key in reports:
        response = await intake.client.post(
            "/v1/incidents", json=body, headers={**headers, "Idempotency-Key": key}
        )
        assert response.status_code == 202
        ids.append(uuid.UUID(response.json()["incident_id"]))
    assert await record_all(intake) == 3
    viewer = bearer(VIEWER)
    feed = (await api.get("/v1/incidents", headers=viewer)).json()["incidents"]
    assert [uuid.UUID(i["incident_id"]) for i in feed] == ids[::-1]  # newest first
    by_severity = (await api.get("/v1/incidents?order=severity", headers=viewer)).json()
    assert [i["severity"] for i in by_severity["incidents"]] == ["critical", "high", "medium"]
    assert by_severity["incidents"][0]["kecamatan_name"]
    counts = (await api.get("/v1/incidents/counts", headers=viewer)).json()["kecamatan"]
    assert [(c["kecamatan"], c["total"], c["critical"]) for c in counts] == [("16.07.01", 3, 1)]
    tps = (await api.get(f"/v1/incidents/tps/{TPS}", headers=viewer)).json()["incidents"]
    assert len(tps) == 3  # the TPS's two and its desa's one

    psu = ids[1]
    assert (
        await api.post(f"/v1/incidents/{psu}/acknowledge", json={}, headers=viewer)
    ).status_code == 403
    other = await api.post(f"/v1/incidents/{psu}/acknowledge", json={}, headers=bearer(CAMAT_OTHER))
    assert (other.status_code, other.json()["code"]) == (403, "REVIEW_SCOPE_OUTSIDE")
    ack = await api.post(
        f"/v1/incidents/{psu}/acknowledge",
        json={"note": "camat menuju lokasi"},
        headers={**bearer(CAMAT), "Idempotency-Key": "ack-1"},
    )
    assert ack.status_code == 202, ack.text
    closed = await api.post(
        f"/v1/incidents/{psu}/close", json={"note": "disepakati tanpa PSU"}, headers=bearer(ADMIN)
    )
    assert closed.status_code == 202
    updates = [
        e
        for e in (incident_adapter.validate_json(r.value) for r in await incident_records(intake))
        if isinstance(e, IncidentUpdated)
    ]
    assert [(u.action.value, u.by.id) for u in updates] == [
        ("acknowledge", CAMAT.id),
        ("close", ADMIN.id),
    ]
    assert await record_all(intake) == 2
    detail = (await api.get(f"/v1/incidents/{psu}", headers=viewer)).json()
    assert detail["status"] == "closed"
    assert [u["note"] for u in detail["updates"]] == ["camat menuju lokasi", "disepakati tanpa PSU"]
    again = await api.post(f"/v1/incidents/{psu}/follow-up", json={}, headers=bearer(ADMIN))
    assert (again.status_code, again.json()["code"]) == (409, "INCIDENT_CLOSED")
    unresolved = (await api.get("/v1/incidents?status=unresolved", headers=viewer)).json()
    assert psu not in {uuid.UUID(i["incident_id"]) for i in unresolved["incidents"]}

    csv_response = await api.get("/v1/incidents/export.csv", headers=viewer)
    assert csv_response.status_code == 200
    lines = csv_response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("incident_id,reported_at,kecamatan")
    assert len(lines) == 4
    xlsx = await api.get("/v1/incidents/export.xlsx", headers=viewer)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    # rebuild: the projections dropped and replayed from the log give the same rows.
    conn = await connect(intake.database_url)
    try:
        before = [dict(r) for r in await conn.fetch("SELECT * FROM incidents ORDER BY 1")]
        replayed = await replay_incidents(
            intake.bootstrap, intake.settings.topics.incidents, f"replay-{uuid.uuid4().hex}", conn
        )
        after = [dict(r) for r in await conn.fetch("SELECT * FROM incidents ORDER BY 1")]
    finally:
        await conn.close()
    assert replayed == 5
    assert after == before


async def test_critical_incident_raises_one_alert_sent_to_coordinators_acknowledged(
    intake: Harness, api: httpx.AsyncClient, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await intake.auth()
    for body, key in (
        ({"area": TPS, "category": "kericuhan", "text": "Kotak suara direbut massa"}, "c1"),
        ({"area": TPS, "category": "petugas", "text": "KPPS terlambat"}, "c2"),
    ):
        response = await intake.client.post(
            "/v1/incidents", json=body, headers={**headers, "Idempotency-Key": key}
        )
        assert response.status_code == 202
    await record_all(intake)
    monkeypatch.setenv("SCREENER_ALERT_COORDINATORS", f"{COORDINATOR},0811-999-0002")
    settings = ScreenerSettings()
    assert settings.coordinators() == [COORDINATOR, "628119990002"]
    pool = await create_pool(intake.database_url, min_size=1, max_size=2)
    outbox = make_outbox(settings, pool)
    outbox.start()
    ends = KafkaEnds(settings.kafka_bootstrap_servers, [settings.topics.validated])
    conn = await connect(intake.database_url)
    try:
        new = await alert_pass(conn, settings.rules(), settings, ends, outbox)
        assert [a.rule for _, a in new] == ["CRITICAL_INCIDENT"]
        assert await alert_pass(conn, settings.rules(), settings, ends, outbox) == []  # once
        (text,) = await fake_graph.wait_for_texts(COORDINATOR, 1)
        assert "PERINGATAN KRITIS" in text and "Kotak suara direbut massa" in text
        await fake_graph.wait_for_texts("628119990002", 1)
        await outbox.drain(5)
        notified = await conn.fetchval("SELECT notified_at FROM desk_alerts")
        assert notified is not None
    finally:
        await conn.close()
        await outbox.stop()
        await ends.close()
        await pool.close()
    viewer = bearer(VIEWER)
    (alert,) = (await api.get("/v1/alerts", headers=viewer)).json()["alerts"]
    assert alert["area"] == "16.07.01" and alert["severity"] == "critical"
    outside = await api.post(
        f"/v1/alerts/{alert['alert_id']}/acknowledge", json={}, headers=bearer(CAMAT_OTHER)
    )
    assert (outside.status_code, outside.json()["code"]) == (403, "ALERT_SCOPE_OUTSIDE")
    ack = await api.post(
        f"/v1/alerts/{alert['alert_id']}/acknowledge", json={"note": "ok"}, headers=bearer(CAMAT)
    )
    assert ack.status_code == 200
    assert ack.json()["acknowledged_by"] == CAMAT.id and ack.json()["acknowledged_at"]
    assert (await api.get("/v1/alerts", headers=viewer)).json()["alerts"] == []
    everything = (await api.get("/v1/alerts?open=false", headers=viewer)).json()["alerts"]
    assert everything[0]["acknowledged_by"] == CAMAT.id


async def test_failing_coordinator_send_is_retried_with_backoff_and_counted(
    intake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures_before = screener_metrics.ALERT_SEND_FAILURES._value.get()
    # A coordinator API that is down (nothing listens on the port) for the first attempts.
    monkeypatch.setenv("SCREENER_ALERT_COORDINATORS", COORDINATOR)
    monkeypatch.setenv("WHATSAPP_API_BASE", "http://127.0.0.1:9/v21.0")
    monkeypatch.setenv("SCREENER_ALERT_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SCREENER_ALERT_BACKOFF_S", "0.05")
    settings = ScreenerSettings()
    pool = await create_pool(intake.database_url, min_size=1, max_size=2)
    conn = await connect(intake.database_url)
    outbox = make_outbox(settings, pool)
    outbox.start()
    try:
        alert_id = await conn.fetchval(
            "INSERT INTO desk_alerts (dedupe_key, rule, severity, pesan, message) "
            "VALUES ('T:1', 'T', 'critical', 'uji', 'test') RETURNING alert_id"
        )
        outbox.enqueue(int(alert_id), "uji")
        for _ in range(100):
            attempts = await conn.fetchval("SELECT notify_attempts FROM desk_alerts")
            if attempts == 3:
                break
            await asyncio.sleep(0.05)
        assert attempts == 3
        assert await conn.fetchval("SELECT notified_at FROM desk_alerts") is None
    finally:
        await outbox.stop()
        await conn.close()
        await pool.close()
    assert screener_metrics.ALERT_SEND_FAILURES._value.get() - failures_before == 3
