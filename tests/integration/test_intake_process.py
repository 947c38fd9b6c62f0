"""The real intake process (`python -m services.intake`): 202 lands in the topic; no broker, 503."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from deskpemilu.tokens import issue
from shared.db import connect
from shared.events import SubmissionReceived, received_adapter
from shared.kafka import ensure_topics
from shared.topics import Topics
from tests.integration.test_intake_app import FORM, OPERATOR, ROSTERS, read_topic
from tests.procs import TEST_TOKEN_SECRET, ServiceProcess, free_port, stack_env

pytestmark = pytest.mark.integration


@pytest.fixture
async def roster_db(scratch_database: str) -> str:
    conn = await connect(scratch_database)
    try:
        from deskpemilu.roster_load import load_roster

        await load_roster(conn, ROSTERS / "pemilu-2024-banyuasin")
    finally:
        await conn.close()
    return scratch_database


@pytest.fixture
async def prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}."
    topics = Topics(name).specs()
    await ensure_topics(kafka_bootstrap, partitions=4, replication_factor=1, topics=topics)
    try:
        yield name
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([spec.name for spec in topics])
        finally:
            await admin.close()


async def _auth(database_url: str) -> dict[str, str]:
    conn = await connect(database_url)
    try:
        token = await issue(conn, TEST_TOKEN_SECRET, OPERATOR, ttl=timedelta(hours=1))
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {token}"}


async def test_real_process_202_is_in_the_topic_and_stops_cleanly(
    kafka_bootstrap: str, roster_db: str, prefix: str, tmp_path: Path
) -> None:
    env = stack_env(kafka_bootstrap, roster_db, TOPIC_PREFIX=prefix)
    service = ServiceProcess("intake", env, tmp_path / "intake.log").start()
    try:
        headers = {**await _auth(roster_db), "Idempotency-Key": "proc-1"}
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
            response = await client.post("/v1/submissions", json=FORM, headers=headers)
            assert response.status_code == 202, response.text
            retry = await client.post("/v1/submissions", json=FORM, headers=headers)
            assert retry.content == response.content
            health = await client.get("/healthz")
            assert health.json()["checks"] == {"kafka": True, "postgres": True}
            metrics = (await client.get("/metrics")).text
        assert 'route="/v1/submissions",status="202"' in metrics
        records = await read_topic(kafka_bootstrap, Topics(prefix).received)
        assert len(records) == 1
        event = received_adapter.validate_json(records[0].value)
        assert isinstance(event, SubmissionReceived)
        assert str(event.submission_id) == response.json()["submission_id"]
    finally:
        code = service.stop()
    # uvicorn re-raises SIGTERM after a graceful shutdown, so the exit status may say -15.
    assert code in (0, -15), service.log_tail()
    assert "Application shutdown complete" in service.log_tail()


async def test_real_process_without_broker_answers_503_and_claims_nothing(
    kafka_bootstrap: str, roster_db: str, prefix: str, tmp_path: Path
) -> None:
    env = stack_env(
        f"127.0.0.1:{free_port()}",  # nothing listens there: Kafka is unreachable
        roster_db,
        TOPIC_PREFIX=prefix,
        INTAKE_PUBLISH_TIMEOUT_S="2",
    )
    service = ServiceProcess("intake", env, tmp_path / "intake.log").start(wait=False)
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:  # the process starts although Kafka is down; /healthz says so
                try:
                    health = await client.get("/healthz")
                    if health.json()["checks"]["postgres"]:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, service.log_tail()
                time.sleep(0.1)
            assert health.status_code == 503
            assert health.json()["checks"]["kafka"] is False
            started = time.monotonic()
            response = await client.post(
                "/v1/submissions", json=FORM, headers=await _auth(roster_db)
            )
            elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "KAFKA_UNAVAILABLE"
        assert response.headers["Retry-After"]
        assert elapsed < 3
    finally:
        service.stop()
    assert await read_topic(kafka_bootstrap, Topics(prefix).received) == []
