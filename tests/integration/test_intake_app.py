"""Intake in-process against the real broker and a scratch database with the Banyuasin roster."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from openpyxl import Workbook

from deskpemilu.roster_load import load_roster
from deskpemilu.tokens import issue_tokens
from services.intake.app import create_app
from services.intake.parser import QUICKCOUNT_READBACK
from services.intake.settings import IntakeSettings
from shared.auth import issue_token
from shared.codec import encode
from shared.db import connect
from shared.events import (
    Channel,
    OperatorRef,
    Role,
    Severity,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionValidated,
    Violation,
    received_adapter,
    submission_id_for,
    utcnow,
)
from shared.form import CHasil
from shared.kafka import ensure_topics
from shared.topics import Topics
from tests.procs import TEST_TOKEN_SECRET, free_port, stack_env
from tests.webhooks import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    SMS_PATH,
    SMS_TOKEN,
    WA_SECRET,
    FakeGraph,
    post_sms,
    post_whatsapp,
    whatsapp_payload,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ROSTERS = REPO / "data" / "rosters"
TPS = "16.07.01.1016.001"  # in op-16.07.01's kecamatan
TPS_OTHER_KECAMATAN = "16.07.02.2001.001"
OPERATOR = OperatorRef(id="op-16.07.01", role=Role.OPERATOR, scope=("16.07.01",), name="Op")
OPERATOR_PHONE = "628110000101"
FORM: dict[str, Any] = {
    "election": "pemilu-2024",
    "contest": "PPWP",
    "tps": TPS,
    "suara_calon": {"1": 120, "2": 250, "3": 80},
    "suara_sah": 450,
    "suara_tidak_sah": 5,
}
SMS_ACCOUNT = "AC0123456789"
SMS_WEBHOOK_URL = "http://intake.test" + SMS_PATH  # the ASGI client's base URL


# --------------------------------------------------------------------------- helpers


@pytest.fixture
async def roster_database(scratch_database: str) -> str:
    """The scratch database with both Banyuasin rosters (operators come from the roster)."""
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTERS / "pemilu-2024-banyuasin")
        await load_roster(conn, ROSTERS / "pilkada-2024-banyuasin")
    finally:
        await conn.close()
    return scratch_database


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh set of the four topics under a unique prefix; deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    await ensure_topics(kafka_bootstrap, partitions=4, replication_factor=1, topics=topics.specs())
    try:
        yield prefix
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([spec.name for spec in topics.specs()])
        finally:
            await admin.close()


@dataclass
class Harness:
    """A running intake app, its client, and what it talks to."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: IntakeSettings
    database_url: str
    bootstrap: str
    graph: FakeGraph

    async def token(
        self, operator: OperatorRef = OPERATOR, *, ttl: timedelta = timedelta(hours=1)
    ) -> tuple[str, uuid.UUID]:
        conn = await connect(self.database_url)
        try:
            issued = await issue_tokens(conn, TEST_TOKEN_SECRET, [operator], ttl=ttl)
        finally:
            await conn.close()
        token, claims = issued[operator.id]
        return token, claims.jti

    async def auth(self, operator: OperatorRef = OPERATOR) -> dict[str, str]:
        token, _ = await self.token(operator)
        return {"Authorization": f"Bearer {token}"}

    async def records(self, topic: str | None = None) -> list[Any]:
        """Every record now in a topic (received by default), read from the beginning."""
        return await read_topic(self.bootstrap, topic or self.settings.topics.received)

    async def whatsapp(self, payload: dict[str, Any], *, secret: str = WA_SECRET) -> httpx.Response:
        return await post_whatsapp(self.client, payload, secret)

    async def sms(self, params: dict[str, str], *, token: str = SMS_TOKEN) -> httpx.Response:
        return await post_sms(self.client, SMS_WEBHOOK_URL, params, token)


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    # No group: the consumer is given every partition of the topic.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 10
        while not consumer.assignment():
            assert time.monotonic() < deadline, "no partitions assigned in 10 s"
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "topic not read to its end in 10 s"
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def start_harness(
    monkeypatch: pytest.MonkeyPatch,
    *,
    kafka_bootstrap: str,
    database_url: str,
    prefix: str,
    graph: FakeGraph,
    wait_for_kafka: bool = True,
    **extra: str,
) -> AsyncIterator[Harness]:
    env = stack_env(
        kafka_bootstrap,
        database_url,
        TOPIC_PREFIX=prefix,
        WHATSAPP_API_BASE=graph.base,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        SMS_WEBHOOK_URL=SMS_WEBHOOK_URL,
        SMS_API_BASE=graph.sms_base,
        SMS_ACCOUNT_SID=SMS_ACCOUNT,
        SMS_FROM_NUMBER="+6281100000000",
        INTAKE_REPLY_TO_DEMO_OPERATORS="true",  # the roster's operators are demo ones
        INTAKE_DIRECTORY_REFRESH_S="0.2",
        INTAKE_PUBLISH_TIMEOUT_S="2",
        INTAKE_NOTIFIER_GROUP=f"intake-notifier-{uuid.uuid4().hex[:8]}",
        **extra,
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = IntakeSettings()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Wait for the producer (a fresh process may take a moment to bootstrap).
        deadline = time.monotonic() + 15
        while wait_for_kafka and not app.state.publisher.connected:
            assert time.monotonic() < deadline, "producer did not connect"
            await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
            yield Harness(app, client, settings, database_url, kafka_bootstrap, graph)


@pytest.fixture
async def intake(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    roster_database: str,
    topic_prefix: str,
    fake_graph: FakeGraph,
) -> AsyncIterator[Harness]:
    async for harness in start_harness(
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        database_url=roster_database,
        prefix=topic_prefix,
        graph=fake_graph,
    ):
        yield harness


# --------------------------------------------------------------------------- JSON API


async def test_202_means_the_record_is_in_the_topic(intake: Harness) -> None:
    response = await intake.client.post(
        "/v1/submissions", json=FORM, headers={**await intake.auth(), "Idempotency-Key": "k-1"}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["submission_id"] == str(submission_id_for(OPERATOR.id, "k-1"))
    assert body["status_url"] == f"/v1/submissions/{body['submission_id']}"
    assert body["tps"] == TPS
    records = await intake.records()
    assert len(records) == 1
    assert records[0].key == TPS.encode()
    event = received_adapter.validate_json(records[0].value)
    assert isinstance(event, SubmissionReceived)
    assert str(event.submission_id) == body["submission_id"]
    assert event.channel is Channel.API
    assert event.operator.id == OPERATOR.id
    assert event.idempotency_key == "k-1"
    assert event.form == CHasil.model_validate(FORM)


async def test_idempotent_retry_same_answer_one_record(intake: Harness) -> None:
    headers = {**await intake.auth(), "Idempotency-Key": "hp-andi-0001"}
    first = await intake.client.post("/v1/submissions", json=FORM, headers=headers)
    # Same form written differently (undotted TPS code, other key order): same request.
    same = {**dict(reversed(list(FORM.items()))), "tps": TPS.replace(".", "")}
    second = await intake.client.post("/v1/submissions", json=same, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.content == second.content
    changed = await intake.client.post(
        "/v1/submissions", json={**FORM, "suara_tidak_sah": 6}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(await intake.records()) == 1


async def test_concurrent_requests_with_one_key_publish_once(intake: Harness) -> None:
    headers = {**await intake.auth(), "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(intake.client.post("/v1/submissions", json=FORM, headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["submission_id"] for r in responses}) == 1
    assert len(await intake.records()) == 1


async def test_without_key_every_request_is_new(intake: Harness) -> None:
    headers = await intake.auth()
    a = await intake.client.post("/v1/submissions", json=FORM, headers=headers)
    b = await intake.client.post("/v1/submissions", json=FORM, headers=headers)
    assert a.status_code == b.status_code == 202
    assert a.json()["submission_id"] != b.json()["submission_id"]
    assert len(await intake.records()) == 2


async def test_401_missing_bad_expired_revoked_inactive(intake: Harness) -> None:
    async def post(headers: dict[str, str]) -> httpx.Response:
        return await intake.client.post("/v1/submissions", json=FORM, headers=headers)

    missing = await post({})
    assert (missing.status_code, missing.json()["code"]) == (401, "TOKEN_MISSING")
    garbage = await post({"Authorization": "Bearer not-a-jwt"})
    assert (garbage.status_code, garbage.json()["code"]) == (401, "TOKEN_INVALID")
    forged, _ = issue_token("another-secret-" + "y" * 40, OPERATOR, ttl=timedelta(hours=1))
    wrong = await post({"Authorization": f"Bearer {forged}"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "TOKEN_INVALID")
    expired, _ = await intake.token(ttl=timedelta(seconds=-5))
    old = await post({"Authorization": f"Bearer {expired}"})
    assert (old.status_code, old.json()["code"]) == (401, "TOKEN_EXPIRED")
    assert old.json()["pesan"] and old.json()["message"]

    token, jti = await intake.token()
    assert (await post({"Authorization": f"Bearer {token}"})).status_code == 202
    conn = await connect(intake.database_url)
    try:
        await conn.execute("UPDATE operator_tokens SET revoked_at = now() WHERE jti = $1", jti)
        await conn.execute("UPDATE operators SET active = false WHERE id = 'camat-16.07.01'")
    finally:
        await conn.close()
    camat = OperatorRef(id="camat-16.07.01", role=Role.CAMAT, scope=("16.07.01",))
    camat_token, _ = issue_token(TEST_TOKEN_SECRET, camat, ttl=timedelta(hours=1))
    deadline = time.monotonic() + 5
    probe = f"/v1/submissions/{uuid.uuid4()}"  # 404 while the token is good, 401 once revoked
    while True:  # the directory refreshes every 0.2 s in this test
        revoked = await intake.client.get(probe, headers={"Authorization": f"Bearer {token}"})
        if revoked.status_code == 401 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert (revoked.status_code, revoked.json()["code"]) == (401, "TOKEN_REVOKED")
    assert (await post({"Authorization": f"Bearer {token}"})).status_code == 401
    inactive = await post({"Authorization": f"Bearer {camat_token}"})
    assert (inactive.status_code, inactive.json()["code"]) == (401, "OPERATOR_INACTIVE")
    assert len(await intake.records()) == 1


async def test_403_outside_scope_and_viewer(intake: Harness) -> None:
    outside = await intake.client.post(
        "/v1/submissions", json={**FORM, "tps": TPS_OTHER_KECAMATAN}, headers=await intake.auth()
    )
    assert outside.status_code == 403
    body = outside.json()
    assert body["code"] == "SCOPE_OUTSIDE"
    assert TPS_OTHER_KECAMATAN in body["pesan"] and "16.07.01" in body["message"]
    viewer = OperatorRef(id="viewer-16.07", role=Role.VIEWER, scope=("16.07",))
    refused = await intake.client.post(
        "/v1/submissions", json=FORM, headers=await intake.auth(viewer)
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_CANNOT_SUBMIT")
    admin = OperatorRef(id="admin-16.07", role=Role.ADMIN, scope=("16.07",))
    allowed = await intake.client.post(
        "/v1/submissions",
        json={**FORM, "tps": TPS_OTHER_KECAMATAN},
        headers=await intake.auth(admin),
    )
    assert allowed.status_code == 202
    assert len(await intake.records()) == 1


async def test_422_per_field_in_indonesian_and_english(intake: Harness) -> None:
    bad = {**FORM, "tps": "16.07.01", "suara_sah": -1, "kolom_aneh": 1}
    del bad["suara_tidak_sah"]
    response = await intake.client.post("/v1/submissions", json=bad, headers=await intake.auth())
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "INVALID_REQUEST" and body["pesan"] and body["message"]
    by_field = {d["field"]: d for d in body["details"]}
    assert by_field["suara_tidak_sah"]["pesan"] == "wajib diisi"
    assert by_field["suara_tidak_sah"]["message"] == "Field required"
    assert by_field["suara_sah"]["pesan"] == "harus paling kecil 0"
    assert by_field["kolom_aneh"]["pesan"] == "kolom tidak dikenal"
    assert by_field["tps"]["pesan"].startswith("kode TPS harus")
    assert by_field["tps"]["message"].startswith("TPS code must")
    broken = await intake.client.post(
        "/v1/submissions",
        content=b'{"election": ',
        headers={**await intake.auth(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.json()["details"][0]["pesan"] == "JSON tidak sah"
    assert await intake.records() == []


async def test_429_rate_limit_per_operator(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    roster_database: str,
    topic_prefix: str,
    fake_graph: FakeGraph,
) -> None:
    async for h in start_harness(
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        database_url=roster_database,
        prefix=topic_prefix,
        graph=fake_graph,
        INTAKE_RATE_PER_S="0.5",
        INTAKE_RATE_BURST="2",
    ):
        headers = await h.auth()
        statuses = [
            (await h.client.post("/v1/submissions", json=FORM, headers=headers)).status_code
            for _ in range(3)
        ]
        assert statuses == [202, 202, 429]
        limited = await h.client.post("/v1/submissions", json=FORM, headers=headers)
        assert limited.json()["code"] == "RATE_LIMITED"
        assert int(limited.headers["Retry-After"]) >= 1
        camat = OperatorRef(id="camat-16.07.01", role=Role.CAMAT, scope=("16.07.01",))
        other = await h.client.post("/v1/submissions", json=FORM, headers=await h.auth(camat))
        assert other.status_code == 202  # the bucket is per operator
        assert len(await h.records()) == 3


async def test_batch_gives_one_result_per_item(intake: Harness) -> None:
    items = [
        {"form": FORM},
        {"form": {**FORM, "suara_sah": "banyak"}},
        {"form": {**FORM, "tps": TPS_OTHER_KECAMATAN}},
        {"idempotency_key": "own-key", "form": {**FORM, "contest": "DPD"}},
    ]
    headers = {**await intake.auth(), "Idempotency-Key": "batch-1"}
    response = await intake.client.post(
        "/v1/submissions/batch", json={"items": items}, headers=headers
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["failed"]) == (2, 2)
    assert [r["status"] for r in body["results"]] == [202, 422, 403, 202]
    assert body["results"][1]["error"]["details"][0]["field"] == "suara_sah"
    assert body["results"][0]["submission_id"] == str(submission_id_for(OPERATOR.id, "batch-1:0"))
    assert body["results"][3]["submission_id"] == str(submission_id_for(OPERATOR.id, "own-key"))
    again = await intake.client.post(
        "/v1/submissions/batch", json={"items": items}, headers=headers
    )
    assert again.json()["results"] == body["results"]
    records = await intake.records()
    assert len(records) == 2
    assert {SubmissionReceived.model_validate_json(r.value).channel for r in records} == {
        Channel.BATCH
    }


def _csv_sheet() -> bytes:
    return (
        b"No;TPS;Desa;1;2;3;Sah;Tidak Sah\n"
        b"1;16.07.01.1016.001;Sungai Rengit;120;250;80;450;5\n"
        b"2;1607011016002;Sungai Rengit;100;200;;300;4\n"
        b"3;16.07.02.2001.001;Luar;1;2;3;6;0\n"
        b"4;16.07.01.1016.003;Sungai Rengit;10;20;30;60;1\n"
    )


async def test_upload_csv_rows_become_forms_and_reupload_is_harmless(intake: Harness) -> None:
    headers = await intake.auth()
    files = {"file": ("banyuasin-1.csv", _csv_sheet(), "text/csv")}
    data = {"election": "pemilu-2024", "contest": "PPWP"}
    response = await intake.client.post(
        "/v1/submissions/upload", files=files, data=data, headers=headers
    )
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(2, 202), (3, 422), (4, 403), (5, 202)]
    assert results[1]["error"]["details"][0]["code"] == "empty_cell"
    again = await intake.client.post(
        "/v1/submissions/upload", files=files, data=data, headers=headers
    )
    assert again.json()["results"] == results
    records = await intake.records()
    assert len(records) == 2
    assert {SubmissionReceived.model_validate_json(r.value).channel for r in records} == {
        Channel.UPLOAD
    }


async def test_upload_xlsx_party_contest(intake: Harness) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["tps", "p1", "p2", "sah", "tidak_sah"])
    sheet.append(["16.07.01.1016.001", 30, 12, 42, 3])
    sheet.append(["16.07.01.1016.002", 7.0, 3, 10, 0])
    buffer = io.BytesIO()
    book.save(buffer)
    response = await intake.client.post(
        "/v1/submissions/upload",
        files={"file": ("dpr.xlsx", buffer.getvalue(), "application/octet-stream")},
        data={"election": "pemilu-2024", "contest": "DPR"},
        headers=await intake.auth(),
    )
    assert response.status_code == 207, response.text
    assert [r["status"] for r in response.json()["results"]] == [202, 202]
    events = [received_adapter.validate_json(r.value) for r in await intake.records()]
    forms = {e.form.tps: e.form for e in events if isinstance(e, SubmissionReceived)}
    assert forms["16.07.01.1016.002"].votes_by_candidate() == {"p1": 7, "p2": 3}
    unknown = await intake.client.post(
        "/v1/submissions/upload",
        files={"file": ("x.csv", b"tps,partai_x,sah,tidak_sah\n", "text/csv")},
        data={"election": "pemilu-2024", "contest": "DPR"},
        headers=await intake.auth(),
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "SHEET_UNKNOWN_COLUMNS")


async def test_status_received_then_from_the_database(intake: Harness) -> None:
    headers = await intake.auth()
    accepted = await intake.client.post("/v1/submissions", json=FORM, headers=headers)
    url = accepted.json()["status_url"]
    received = await intake.client.get(url, headers=headers)
    assert received.status_code == 200
    assert received.json()["status"] == "received"
    violation = Violation(
        code="SUM_SAH",
        severity=Severity.ERROR,
        pesan="Jumlah suara paslon tidak sama dengan suara sah.",
        message="Candidate votes do not add up to valid votes.",
        field="suara_sah",
    )
    conn = await connect(intake.database_url)
    try:
        await conn.execute(
            "INSERT INTO submissions (submission_id, election, contest, tps, operator_id, "
            "channel, received_at, status, form, violations) "
            "VALUES ($1, 'pemilu-2024', 'PPWP', $2, $3, 'api', now(), 'rejected', $4, $5)",
            uuid.UUID(accepted.json()["submission_id"]),
            TPS,
            OPERATOR.id,
            FORM,
            [violation.model_dump(mode="json")],
        )
    finally:
        await conn.close()
    rejected = (await intake.client.get(url, headers=headers)).json()
    assert rejected["status"] == "rejected"
    assert rejected["violations"][0]["pesan"] == violation.pesan
    other = OperatorRef(id="op-16.07.02", role=Role.OPERATOR, scope=("16.07.02",))
    assert (await intake.client.get(url, headers=await intake.auth(other))).status_code == 404
    camat = OperatorRef(id="camat-16.07.01", role=Role.CAMAT, scope=("16.07.01",))
    assert (await intake.client.get(url, headers=await intake.auth(camat))).status_code == 200
    unknown = await intake.client.get(f"/v1/submissions/{uuid.uuid4()}", headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "SUBMISSION_NOT_FOUND")


async def test_openapi_has_examples_for_every_route_and_metrics_count(intake: Harness) -> None:
    spec = (await intake.client.get("/openapi.json")).json()
    routes = {
        ("post", "/v1/submissions"),
        ("post", "/v1/submissions/batch"),
        ("post", "/v1/submissions/upload"),
        ("get", "/v1/submissions/{submission_id}"),
        ("get", "/v1/webhooks/whatsapp"),
        ("post", "/v1/webhooks/whatsapp"),
        ("post", "/v1/webhooks/sms"),
    }
    text = json.dumps(spec)
    for method, path in routes:
        operation = spec["paths"][path][method]
        assert "example" in json.dumps(operation) or "examples" in json.dumps(operation), path
    assert "ErrorOut" in text and "BatchResult" in text
    assert "HTTPValidationError" not in text  # our 422 body is ErrorOut everywhere
    await intake.client.post("/v1/submissions", json=FORM, headers=await intake.auth())
    await intake.client.post("/v1/submissions", json=FORM)
    metrics = (await intake.client.get("/metrics")).text
    assert 'deskpemilu_intake_requests_total{route="/v1/submissions",status="202"}' in metrics
    assert 'deskpemilu_intake_requests_total{route="/v1/submissions",status="401"}' in metrics
    assert "deskpemilu_intake_kafka_ack_seconds_count" in metrics


async def test_kafka_unreachable_503_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    roster_database: str,
    topic_prefix: str,
    fake_graph: FakeGraph,
) -> None:
    async for h in start_harness(
        monkeypatch,
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        wait_for_kafka=False,
        database_url=roster_database,
        prefix=topic_prefix,
        graph=fake_graph,
    ):
        started = time.monotonic()
        response = await h.client.post(
            "/v1/submissions", json=FORM, headers={**await h.auth(), "Idempotency-Key": "x"}
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["code"] == "KAFKA_UNAVAILABLE"
        assert int(response.headers["Retry-After"]) >= 1
        assert elapsed < h.settings.publish_timeout_s + 1
        wa = await h.whatsapp(whatsapp_payload(OPERATOR_PHONE, "PPWP#1607011016001#1#2#3#6#0"))
        assert wa.status_code == 503
        batch = await h.client.post(
            "/v1/submissions/batch", json={"items": [{"form": FORM}]}, headers=await h.auth()
        )
        assert batch.status_code == 207 and batch.headers["Retry-After"]
        assert batch.json()["results"][0]["status"] == 503
    assert await read_topic(kafka_bootstrap, Topics(topic_prefix).received) == []


# --------------------------------------------------------------------------- WhatsApp and SMS


async def test_whatsapp_verification_challenge(intake: Harness) -> None:
    ok = await intake.client.get(
        "/v1/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "test-verify-token",
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await intake.client.get(
        "/v1/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403


async def test_whatsapp_bad_signature_401_nothing_published(intake: Harness) -> None:
    payload = whatsapp_payload(OPERATOR_PHONE, "PPWP#1607011016001#120#250#80#450#5")
    forged = await intake.whatsapp(payload, secret="not-the-app-secret")
    assert (forged.status_code, forged.json()["code"]) == (401, "SIGNATURE_INVALID")
    unsigned = await intake.client.post("/v1/webhooks/whatsapp", json=payload)
    assert unsigned.status_code == 401
    await asyncio.sleep(0.3)
    assert await intake.records() == []
    assert intake.graph.received == []


async def test_whatsapp_unknown_number_polite_reply_nothing_published(intake: Harness) -> None:
    stranger = "6289999999999"
    response = await intake.whatsapp(whatsapp_payload(stranger, "PPWP#1607011016001#1#2#3#6#0"))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "published": 0}
    (text,) = await intake.graph.wait_for_texts(stranger, 1)
    assert "belum terdaftar" in text
    assert await intake.records() == []


async def test_whatsapp_message_published_read_back_and_retry_harmless(intake: Harness) -> None:
    payload = whatsapp_payload(
        OPERATOR_PHONE, "*ppwp* # 1607011016001 # 120 # 250 # 80 # 450 # 5", "wamid.ABC123"
    )
    response = await intake.whatsapp(payload)
    assert response.status_code == 200
    assert response.json() == {"received": 1, "published": 1}
    records = await intake.records()
    assert len(records) == 1
    event = received_adapter.validate_json(records[0].value)
    assert isinstance(event, SubmissionReceived)
    assert event.channel is Channel.WHATSAPP
    assert event.reply_to == OPERATOR_PHONE
    assert event.idempotency_key == "whatsapp:wamid.ABC123"
    assert event.form.election == "pemilu-2024"
    assert event.form.suara_calon == {1: 120, 2: 250, 3: 80}
    (readback,) = await intake.graph.wait_for_texts(OPERATOR_PHONE, 1)
    assert "Terbaca" in readback and "Paslon 02: 250" in readback and "Suara sah: 450" in readback
    assert intake.graph.paths[0] == "/v21.0/106540352242922/messages"
    # Meta delivers the same payload again: no second record, no second read-back.
    assert (await intake.whatsapp(payload)).status_code == 200
    await asyncio.sleep(0.3)
    assert len(await intake.records()) == 1
    assert len(intake.graph.texts_to(OPERATOR_PHONE)) == 1


async def test_whatsapp_parse_error_help_scope_replies(intake: Harness) -> None:
    await intake.whatsapp(whatsapp_payload(OPERATOR_PHONE, "PPWP#1607011016001#120#abc#450#5"))
    await intake.whatsapp(whatsapp_payload(OPERATOR_PHONE, "bantuan"))
    await intake.whatsapp(whatsapp_payload(OPERATOR_PHONE, "PILBUP#1607022001001#300#150#450#5"))
    texts = await intake.graph.wait_for_texts(OPERATOR_PHONE, 3)
    # Replies go out concurrently, so they may arrive in any order: tell them by content.
    (help_reply,) = [t for t in texts if "FORMAT HASIL TPS" in t]
    (outside,) = [t for t in texts if "di luar wilayah" in t]
    (error,) = [t for t in texts if t not in (help_reply, outside)]
    assert "Format" in error or "Contoh" in error
    assert await intake.records() == []


async def test_pilkada_text_goes_to_the_pilkada_election(intake: Harness) -> None:
    response = await intake.whatsapp(
        whatsapp_payload(OPERATOR_PHONE, "PILBUP#1607011016001#300#150#450#5")
    )
    assert response.json()["published"] == 1
    (record,) = await intake.records()
    event = received_adapter.validate_json(record.value)
    assert isinstance(event, SubmissionReceived)
    assert event.form.election == "pilkada-2024"


async def test_sms_signature_checked_and_twiml_read_back(intake: Harness) -> None:
    params = {
        "From": "+" + OPERATOR_PHONE,
        "Body": "PPWP#1607011016001#120#250#80#450#5",
        "MessageSid": "SM0123456789abcdef",
    }
    bad = await intake.sms(params, token="wrong-token")
    assert (bad.status_code, bad.json()["code"]) == (401, "SIGNATURE_INVALID")
    assert await intake.records() == []
    good = await intake.sms(params)
    assert good.status_code == 200
    assert good.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>Terbaca" in good.text
    assert good.headers["X-Deskpemilu-Published"] == "1"
    unreadable = await intake.sms({**params, "Body": "halo pak", "MessageSid": "SMx"})
    assert unreadable.headers["X-Deskpemilu-Published"] == "0"
    (record,) = await intake.records()
    event = received_adapter.validate_json(record.value)
    assert isinstance(event, SubmissionReceived)
    assert event.channel is Channel.SMS and event.idempotency_key == "sms:SM0123456789abcdef"
    assert (await intake.sms(params)).status_code == 200  # gateway retry
    assert len(await intake.records()) == 1


def texted_and_rejected(channel: Channel, idempotency_key: str) -> SubmissionRejected:
    """A form texted in by the operator's phone, rejected for a wrong sum."""
    submission = SubmissionReceived(
        submission_id=uuid.uuid4(),
        received_at=utcnow(),
        channel=channel,
        operator=OPERATOR,
        idempotency_key=idempotency_key,
        form=CHasil.model_validate(FORM),
        reply_to=OPERATOR_PHONE,
    )
    sum_sah = Violation(
        code="SUM_SAH",
        severity=Severity.ERROR,
        pesan="Jumlah suara paslon (450) tidak sama dengan suara sah (460).",
        message="Candidate votes do not add up.",
    )
    return SubmissionRejected(submission=submission, violations=(sum_sah,), rejected_at=utcnow())


async def test_verdicts_are_sent_back_to_whatsapp_senders(intake: Harness) -> None:
    rejected = texted_and_rejected(Channel.WHATSAPP, "whatsapp:wamid.X")
    submission = rejected.submission
    accepted = SubmissionValidated(
        submission=submission.model_copy(update={"submission_id": uuid.uuid4()}),
        validated_at=utcnow(),
    )
    api_only = SubmissionValidated(
        submission=submission.model_copy(update={"channel": Channel.API, "reply_to": None}),
        validated_at=utcnow(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        topics = intake.settings.topics
        await producer.send_and_wait(topics.rejected, encode(rejected), key=TPS.encode())
        await producer.send_and_wait(topics.validated, encode(api_only), key=TPS.encode())
        await producer.send_and_wait(topics.validated, encode(accepted), key=TPS.encode())
    finally:
        await producer.stop()
    texts = await intake.graph.wait_for_texts(OPERATOR_PHONE, 2, timeout_s=30)
    assert sorted(t.split(":")[0] for t in texts) == ["Diterima", "Ditolak"]
    (ditolak,) = [t for t in texts if t.startswith("Ditolak")]
    assert "tidak sama dengan suara sah (460)" in ditolak
    await asyncio.sleep(0.5)
    assert len(intake.graph.texts_to(OPERATOR_PHONE)) == 2


async def test_verdicts_are_sent_back_to_sms_senders_through_the_gateway_api(
    intake: Harness,
) -> None:
    rejected = texted_and_rejected(Channel.SMS, "sms:SMverdict")
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            intake.settings.topics.rejected, encode(rejected), key=TPS.encode()
        )
    finally:
        await producer.stop()
    (text,) = await intake.graph.wait_for_texts(OPERATOR_PHONE, 1, timeout_s=30)
    assert text.startswith("Ditolak: ") and "tidak sama dengan suara sah (460)" in text
    assert intake.graph.received == []  # it went by SMS, not WhatsApp
    (message,) = intake.graph.sms
    assert intake.graph.paths == [f"/2010-04-01/Accounts/{SMS_ACCOUNT}/Messages.json"]
    assert message["From"] == "+6281100000000" and message["To"] == "+" + OPERATOR_PHONE
    expected = base64.b64encode(f"{SMS_ACCOUNT}:{SMS_TOKEN}".encode()).decode()
    assert intake.graph.sms_auth == [f"Basic {expected}"]


async def test_the_read_back_of_a_quick_count_sample_tps_says_so(intake: Harness) -> None:
    directory = intake.app.state.directory
    election = directory.election_for("PPWP")
    conn = await connect(intake.database_url)
    try:
        sample_id = await conn.fetchval(
            """INSERT INTO quickcount_samples (election, seed, size, design, sample_order,
                                               allocation, drawn_by)
               VALUES ($1, 1, 1, 'test', 'test', '{}', 'test') RETURNING id""",
            election,
        )
        await conn.execute(
            "INSERT INTO quickcount_sample_tps VALUES ($1, '16.07.01.1016.001', '16.07.01')",
            sample_id,
        )
        await directory.refresh(conn)
    finally:
        await conn.close()
    params = {"From": "+" + OPERATOR_PHONE, "Body": "PPWP#1607011016001#120#250#80#450#5"}
    sampled = await intake.sms({**params, "MessageSid": "SMsample1"})
    assert QUICKCOUNT_READBACK in sampled.text
    other = await intake.sms(
        {**params, "Body": "PPWP#1607011016002#120#250#80#450#5", "MessageSid": "SMsample2"}
    )
    assert "<Response><Message>Terbaca" in other.text and QUICKCOUNT_READBACK not in other.text
