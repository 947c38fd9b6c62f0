"""A simulated day on a three-broker Kafka cluster while single brokers are SIGKILLed.

deploy/stack.sh runs the cluster (KAFKA_BROKERS=3) in its own RUN_DIR on free ports; topics have
replication factor 3 and min.insync.replicas 2, the producers acks=all. Each fault SIGKILLs one
broker and starts it again, so the other two carry on: nothing acknowledged may be lost and
nothing may count twice. (Service kills with the single broker: tests/e2e/test_chaos.py.)
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deskpemilu.chaos import KAFKA, Chaos, ChaosConfig, ShellStack, fault_schedule, prepare_day
from deskpemilu.simulator.truth import write_truth
from shared.db import connect, migrate
from shared.form import Contest
from shared.topics import Topics
from tests.e2e.chaos_checks import assert_counted_once, report_context
from tests.e2e.pipeline import (
    STACK_SCRIPT,
    ServiceSupervisor,
    start_pipeline,
    start_private_stack,
    stop_private_stack,
)
from tests.procs import TEST_TOKEN_SECRET

CONTESTS = (Contest.PPWP, Contest.DPD)
TPS_LIMIT = 80
DAY_SECONDS = 150.0


async def replication_of(bootstrap: str, topic: str) -> tuple[set[int], str]:
    """The replica counts of a topic's partitions and its min.insync.replicas."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        replicas = {len(p["replicas"]) for p in described["partitions"]}
        (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = configs.to_object()["resources"][0]["config_entries"]
        min_isr = next(
            str(e["config_value"]) for e in entries if e["config_names"] == "min.insync.replicas"
        )
    finally:
        await admin.close()
    return replicas, min_isr


@pytest.mark.e2e
@pytest.mark.timeout(900)
async def test_day_on_three_brokers_loses_nothing_while_brokers_die(tmp_path: Path) -> None:
    started = time.monotonic()
    stack = start_private_stack(brokers=3)
    supervisor: ServiceSupervisor | None = None
    pipeline = None
    try:
        conn = await connect(stack.database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pipeline = await start_pipeline(
            stack.kafka_bootstrap, stack.database_url, tmp_path, replication_factor=3,
            TOPIC_REPLICATION_FACTOR="3",
        )  # fmt: skip
        received = Topics(pipeline.env["TOPIC_PREFIX"]).received
        assert await replication_of(stack.kafka_bootstrap, received) == ({3}, "2")
        supervisor = ServiceSupervisor(pipeline).start()
        prepared = await prepare_day(
            stack.database_url, "pemilu-2024", token_secret=TEST_TOKEN_SECRET, seed=18,
            tps_limit=TPS_LIMIT, contests=CONTESTS,
        )  # fmt: skip
        truth_path = tmp_path / "truth.json"
        write_truth(truth_path, prepared.plan, prepared.roster)
        config = ChaosConfig(
            seed=18, kill_every_s=5.0, duration_s=DAY_SECONDS, day_timeout_s=DAY_SECONDS + 120,
            drain_timeout_s=180.0, backing_targets=(KAFKA,), service_kills=False, concurrency=8,
        )  # fmt: skip
        chaos = Chaos(supervisor, ShellStack(STACK_SCRIPT, stack.env), config, on_event=print)
        report = await chaos.run(
            prepared, orjson.loads(truth_path.read_bytes()), intake_url=pipeline.intake_url,
            api_url=pipeline.api_url, database_url=stack.database_url, secrets=pipeline.secrets,
        )  # fmt: skip
        print(report.summary())
        print(f"service exits (killed or crashed): {supervisor.exits}")
        print(f"setup + run + checks: {time.monotonic() - started:.0f}s")
        context = report_context(report, tmp_path)
        # At least two single brokers crashed and came back; no service was killed.
        assert report.backing_restarts[KAFKA] >= 2, context
        assert sum(report.kills.values()) == 0, context
        assert_counted_once(report, len(prepared.plan.sends), context)
    finally:
        if supervisor is not None:
            await supervisor.stop()
        if pipeline is not None:
            pipeline.stop()
        stop_private_stack(stack)


def test_schedule_without_service_kills_crashes_only_the_chosen_backing_server() -> None:
    targets = fault_schedule(random.Random(3), [], backing_targets=(KAFKA,))
    assert {next(targets) for _ in range(50)} == {KAFKA}
    mixed = fault_schedule(random.Random(3), ["intake"], backing_targets=(KAFKA,))
    assert {next(mixed) for _ in range(200)} == {"intake", KAFKA}
