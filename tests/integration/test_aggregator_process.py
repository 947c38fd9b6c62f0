"""The aggregator process: metrics by decision, conflicts gauge, lag, and the DLQ."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from shared.codec import encode, key_for_tps
from shared.db import connect
from shared.events import Channel, OperatorRef, Role, SubmissionReceived, SubmissionValidated
from shared.form import CHasil, Contest
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.integration.test_aggregator_crash import delete_topics
from tests.procs import ServiceProcess, stack_env

pytestmark = pytest.mark.integration

TREE = synthetic_tree(1, 1, 2, 4, 20)
TPS = [row[0] for row in TREE.tps]
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)


def validated(n: int, operator: str, tps: str, c1: int) -> bytes:
    sub = SubmissionReceived(
        submission_id=UUID(int=n),
        received_at=T0 + timedelta(seconds=n),
        channel=Channel.SMS,
        operator=OperatorRef(id=operator, role=Role.OPERATOR, scope=("11",)),
        idempotency_key=f"p{n}",
        form=CHasil(
            election="pemilu-2024",
            contest=Contest.PPWP,
            tps=tps,
            suara_calon={1: c1, 2: 5},
            suara_sah=c1 + 5,
            suara_tidak_sah=1,
        ),
    )
    return encode(SubmissionValidated(submission=sub, validated_at=sub.received_at))


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name}{labels} not in /metrics"
    return float(found.group(1))


async def test_metrics_and_dead_letters(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    env = stack_env(kafka_bootstrap, scratch_database)
    topics = Topics(env["TOPIC_PREFIX"])
    await ensure_topics(kafka_bootstrap, partitions=2, replication_factor=1, topics=topics.specs())
    conn = await connect(scratch_database)
    await write_synthetic_roster(conn, TREE, contests=[Contest.PPWP])
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    aggregator = ServiceProcess("aggregator", env, tmp_path / "aggregator.log")
    try:
        records = [
            (TPS[0], validated(1, "op1", TPS[0], 10)),
            (TPS[1], validated(2, "op1", TPS[1], 20)),
            (TPS[0], validated(3, "op2", TPS[0], 11)),  # conflict
            (TPS[1], validated(4, "op1", TPS[1], 21)),  # revision
            (TPS[1], validated(4, "op1", TPS[1], 21)),  # repeat
            (TPS[2], b'{"type": "submission.validated", "submission": {}}'),
        ]
        for tps, value in records:
            await producer.send(topics.validated, value, key=key_for_tps(tps))
        await producer.flush()
        aggregator.start()
        deadline = time.monotonic() + 30
        while await conn.fetchval("SELECT count(*) FROM submissions") < 4:
            assert time.monotonic() < deadline, aggregator.log_tail()
            await asyncio.sleep(0.1)
        text = ""
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                text = (await http.get(f"{aggregator.url}/metrics")).text
                lag = 'deskpemilu_consumer_lag_records{service="aggregator"} 0.0'
                if "deskpemilu_aggregator_undecodable_records_total" in text and lag in text:
                    break
                await asyncio.sleep(0.2)
        forms = "deskpemilu_aggregator_forms_total"
        assert metric(text, forms, '{decision="new"}') == 2
        assert metric(text, forms, '{decision="conflict"}') == 1
        assert metric(text, forms, '{decision="revision"}') == 1
        assert metric(text, forms, '{decision="repeat"}') == 1
        assert metric(text, "deskpemilu_aggregator_conflicts_open") == 1
        assert metric(text, "deskpemilu_aggregator_batch_size_count") >= 1
        assert metric(text, "deskpemilu_aggregator_batch_seconds_count") >= 1
        assert metric(text, "deskpemilu_consumer_lag_records", '{service="aggregator"}') == 0

        dlq = AIOKafkaConsumer(
            topics.dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
        )
        await dlq.start()
        try:
            letter = orjson.loads((await asyncio.wait_for(dlq.getone(), 20)).value)
        finally:
            await dlq.stop()
        assert letter["source_topic"] == topics.validated
        # Refused by the shared model of the validated topic, naming what is missing.
        assert letter["error"].startswith("ValidationError") and "missing" in letter["error"]
        assert aggregator.stop() == 0, aggregator.log_tail()
        # SIGTERM is a normal stop: nothing in the log may look like a crash.
        assert "Traceback" not in aggregator.log_path.read_text(), aggregator.log_tail()
    finally:
        aggregator.kill()
        await producer.stop()
        await conn.close()
        await delete_topics(kafka_bootstrap, topics)
