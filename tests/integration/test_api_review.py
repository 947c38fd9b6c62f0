"""Review routes against the real Kafka and PostgreSQL: who may decide, and what reaches the log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from deskpemilu.simulator.run import load_operators, mint_tokens
from services.api.routes_review import decision_id_for
from shared.codec import decode
from shared.db import connect
from shared.events import ReviewDecided, Role, received_adapter
from shared.kafka import ensure_topics
from shared.topics import Topics
from tests.e2e.pipeline import start_pipeline, wait_until
from tests.integration.test_api import (
    ELECTION,
    Api,
    Seeded,
    auth,
    seed,
    serve_api,
    token_for,
)
from tests.procs import TEST_TOKEN_SECRET

pytestmark = pytest.mark.integration

ADMIN = token_for(Role.ADMIN)
CAMAT_01 = token_for(Role.CAMAT, scope=("16.07.01",), operator_id="camat-16.07.01")
CAMAT_02 = token_for(Role.CAMAT, scope=("16.07.02",), operator_id="camat-16.07.02")
OPERATOR_01 = token_for(Role.OPERATOR, scope=("16.07.01",), operator_id="op-16.07.01")


@pytest.fixture
async def seeded(scratch_database: str) -> Seeded:
    """A migrated database with the roster and the fixture results."""
    return await seed(scratch_database)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[Topics]:
    """A received topic under a prefix of its own; deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    names = Topics(prefix)
    await ensure_topics(
        kafka_bootstrap, partitions=2, replication_factor=1, topics=names.specs()[:1]
    )
    try:
        yield names
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([names.received])
        finally:
            await admin.close()


@pytest.fixture
async def api(seeded: Seeded, topics: Topics, kafka_bootstrap: str) -> AsyncIterator[Api]:
    """The api publishing to the test's topics."""
    async with serve_api(
        seeded.url, kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topics.prefix
    ) as running:
        yield running


async def read_decisions(bootstrap: str, topic: str, expected: int) -> list[ReviewDecided]:
    """Everything on the topic, decoded, until `expected` records were read (or 10 s)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"review-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[ReviewDecided] = []
    try:
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    assert record.value is not None and record.key is not None
                    event = decode(received_adapter, record.value)
                    assert isinstance(event, ReviewDecided)
                    assert record.key == event.tps.encode()
                    found.append(event)
            if len(found) >= expected:
                break
    finally:
        await consumer.stop()
    return found


async def test_accept_and_verify_publish_review_decisions(
    api: Api, seeded: Seeded, topics: Topics, kafka_bootstrap: str
) -> None:
    disputed = seeded.tps["b"]
    rival = seeded.submissions["b_rival"]
    async with api.client(CAMAT_01) as client:
        accepted = await client.post(
            f"/v1/review/{ELECTION}/PPWP/{disputed}/accept",
            json={"submission_id": str(rival), "note": "dicek dengan foto C1 "},
            headers={"Idempotency-Key": "klik-1"},
        )
        verified = await client.post(
            f"/v1/review/{ELECTION}/PPWP/{seeded.tps['a'].replace('.', '')}/verify", json={}
        )
    assert accepted.status_code == 202, accepted.text
    assert verified.status_code == 202, verified.text
    body = accepted.json()
    assert body["status"] == "queued" and body["pesan"] and body["message"]
    assert body["decision_id"] == str(decision_id_for("camat-16.07.01", "klik-1"))

    events = await read_decisions(kafka_bootstrap, topics.received, 2)
    by_action = {e.action: e for e in events}
    accept = by_action["accept_version"]
    assert (accept.election, accept.contest, accept.tps) == (ELECTION, "PPWP", disputed)
    assert accept.submission_id == rival and accept.note == "dicek dengan foto C1"
    assert accept.reviewer.id == "camat-16.07.01" and accept.reviewer.role is Role.CAMAT
    assert str(accept.decision_id) == body["decision_id"]
    verify = by_action["verify"]
    assert verify.tps == seeded.tps["a"] and verify.submission_id is None


async def test_only_camat_of_the_area_or_admin_may_decide(api: Api, seeded: Seeded) -> None:
    route = f"/v1/review/{ELECTION}/PPWP/{seeded.tps['a']}/verify"
    async with api.client(None) as client:
        assert (await client.post(route, json={})).status_code == 401
        for token in (token_for(Role.VIEWER), OPERATOR_01):
            refused = await client.post(route, json={}, headers=auth(token))
            assert (refused.status_code, refused.json()["code"]) == (403, "REVIEW_ROLE")
        # An admin with a scope is held to it, as the validator holds it (no 202 then rejected).
        scoped_admin = token_for(Role.ADMIN, scope=("16.07.02",), operator_id="admin-16.07.02")
        for token in (CAMAT_02, scoped_admin):
            outside = await client.post(route, json={}, headers=auth(token))
            body = outside.json()
            assert (outside.status_code, body["code"]) == (403, "REVIEW_SCOPE_OUTSIDE")
            assert "di luar wilayah" in body["pesan"] and "outside" in body["message"]
        admin = await client.post(route, json={}, headers=auth(ADMIN))
        assert admin.status_code == 202


async def test_review_requests_are_checked_before_publishing(api: Api, seeded: Seeded) -> None:
    base = f"/v1/review/{ELECTION}/PPWP"
    async with api.client(ADMIN) as client:
        other_tps = await client.post(
            f"{base}/{seeded.tps['a']}/accept", json={"submission_id": str(seeded.submissions["b"])}
        )
        unknown = await client.post(
            f"{base}/{seeded.tps['a']}/accept", json={"submission_id": str(uuid.uuid4())}
        )
        nothing_to_verify = await client.post(f"{base}/{seeded.tps['c']}/verify", json={})
        no_tps = await client.post(f"{base}/16.07.01.1016.998/verify", json={})
        bad_body = await client.post(f"{base}/{seeded.tps['a']}/accept", json={"note": "x"})
        no_contest = await client.post(
            f"/v1/review/{ELECTION}/PILBUP/{seeded.tps['a']}/verify", json={}
        )
    assert (other_tps.status_code, other_tps.json()["code"]) == (409, "SUBMISSION_NOT_FOR_TPS")
    assert unknown.status_code == 409
    assert (nothing_to_verify.status_code, nothing_to_verify.json()["code"]) == (409, "NO_RESULT")
    assert no_tps.status_code == 404
    assert (bad_body.status_code, bad_body.json()["code"]) == (422, "INVALID_REQUEST")
    assert no_contest.status_code == 404


async def test_kafka_down_answers_503_with_retry_after(seeded: Seeded) -> None:
    async with (
        serve_api(
            seeded.url, kafka_bootstrap_servers="127.0.0.1:1", API_PUBLISH_TIMEOUT_S=1.0
        ) as api,
        api.client(ADMIN) as client,
    ):
        response = await client.post(
            f"/v1/review/{ELECTION}/PPWP/{seeded.tps['a']}/verify", json={}
        )
        # Reads do not need Kafka.
        reads = await client.get(f"/v1/results/{ELECTION}/PPWP/16.07")
    assert response.status_code == 503
    assert response.json()["code"] == "KAFKA_UNAVAILABLE"
    assert response.headers["retry-after"] == "5"
    assert reads.status_code == 200


@pytest.mark.e2e
@pytest.mark.timeout(300)
async def test_a_decision_travels_through_kafka_into_the_tps_history(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(
        kafka_bootstrap, scratch_database, tmp_path, INTAKE_DIRECTORY_REFRESH_S="0.5"
    )
    try:
        conn = await connect(scratch_database)
        try:
            # A second field operator in the same kecamatan, so that two versions can disagree
            # (the demo roster may already have one).
            await conn.execute(
                "INSERT INTO operators (id, name, role, scope) "
                "VALUES ('op2-16.07.01', 'Operator Kedua (uji)', 'operator', '{16.07.01}') "
                "ON CONFLICT (id) DO NOTHING"
            )
            operators, _ = await load_operators(conn)
            wanted = {"op-16.07.01", "op2-16.07.01", "camat-16.07.01"}
            tokens = await mint_tokens(
                conn, TEST_TOKEN_SECRET, [op for op in operators if op.id in wanted]
            )
            tps = await conn.fetchval(
                "SELECT min(code) FROM tps WHERE election = $1 AND code LIKE '16.07.01.%'",
                ELECTION,
            )
        finally:
            await conn.close()
        await asyncio.sleep(1.5)  # the intake's operator directory picks up op2

        first = {"1": 20, "2": 60, "3": 20}
        second = {"1": 60, "2": 20, "3": 20}
        async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=10) as intake:
            for operator, votes in (("op-16.07.01", first), ("op2-16.07.01", second)):
                sent = await intake.post(
                    "/v1/submissions",
                    json={
                        "election": ELECTION,
                        "contest": "PPWP",
                        "tps": tps,
                        "suara_calon": votes,
                        "suara_sah": 100,
                        "suara_tidak_sah": 2,
                    },
                    headers={**auth(tokens[operator]), "Idempotency-Key": f"{operator}-1"},
                )
                assert sent.status_code == 202, sent.text

        async with httpx.AsyncClient(
            base_url=pipeline.api_url, headers=auth(tokens["camat-16.07.01"]), timeout=10
        ) as api:

            async def detail() -> dict[str, Any]:
                response = await api.get(f"/v1/tps/{ELECTION}/PPWP/{tps}")
                assert response.status_code == 200
                body: dict[str, Any] = response.json()
                return body

            async def disputed() -> dict[str, Any] | None:
                d = await detail()
                return d if d["result"] and d["result"]["status"] == "disputed" else None

            state = await wait_until(disputed, timeout_s=60, interval_s=0.3)
            assert state is not None, pipeline.logs()
            rival = next(s for s in state["submissions"] if s["status"] == "conflict")
            assert rival["operator_id"] == "op2-16.07.01" and rival["votes"]["c1"] == 60
            conflicts = (await api.get(f"/v1/conflicts/{ELECTION}")).json()["conflicts"]
            assert [c["tps"] for c in conflicts] == [tps]

            accepted = await api.post(
                f"/v1/review/{ELECTION}/PPWP/{tps}/accept",
                json={"submission_id": rival["submission_id"], "note": "sesuai foto C.Hasil"},
            )
            assert accepted.status_code == 202, accepted.text

            async def settled() -> dict[str, Any] | None:
                d = await detail()
                return d if d["decisions"] else None

            final = await wait_until(settled, timeout_s=60, interval_s=0.3)
            assert final is not None, pipeline.logs()
            assert final["result"]["submission_id"] == rival["submission_id"]
            assert final["result"]["status"] == "verified"
            decision = final["decisions"][0]
            assert decision["decision_id"] == accepted.json()["decision_id"]
            assert (decision["reviewer_id"], decision["action"]) == (
                "camat-16.07.01",
                "accept_version",
            )
            assert decision["note"] == "sesuai foto C.Hasil"
            assert final["versions"][-1]["decision"] == "review"
            kabupaten = (await api.get(f"/v1/results/{ELECTION}/PPWP/16.07")).json()
            assert {t["key"]: t["votes"] for t in kabupaten["totals"]} == {
                "c1": 60,
                "c2": 20,
                "c3": 20,
            }
            assert (await api.get(f"/v1/conflicts/{ELECTION}")).json()["conflicts"] == []
    finally:
        pipeline.stop()
