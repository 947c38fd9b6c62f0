"""Fault injection: a simulated day while services are SIGKILLed and Kafka and PostgreSQL crash."""

from __future__ import annotations

import random
import time
from pathlib import Path

import orjson
import pytest

from deskpemilu.chaos import (
    KAFKA,
    POSTGRES,
    Chaos,
    ChaosConfig,
    ShellStack,
    compare_statuses,
    fault_schedule,
    prepare_day,
)
from deskpemilu.simulator.truth import write_truth
from shared.db import connect, migrate
from shared.form import Contest
from tests.e2e.chaos_checks import assert_counted_once, report_context
from tests.e2e.pipeline import (
    SERVICE_ORDER,
    STACK_SCRIPT,
    ServiceSupervisor,
    start_pipeline,
    start_private_stack,
    stop_private_stack,
)
from tests.procs import TEST_TOKEN_SECRET

# Party-list and candidate contests both, on the first TPS of the roster: a few hundred forms.
CONTESTS = (Contest.PPWP, Contest.DPD, Contest.DPR, Contest.DPRD_KABKO)
TPS_LIMIT = 250
DAY_SECONDS = 100.0


def test_schedule_hits_every_target_in_its_first_round() -> None:
    targets = fault_schedule(random.Random(7), SERVICE_ORDER)
    first = [next(targets) for _ in range(len(SERVICE_ORDER) + 2)]
    assert sorted(first) == sorted([*SERVICE_ORDER, KAFKA, POSTGRES])
    later = [next(targets) for _ in range(400)]
    assert set(later) == {*SERVICE_ORDER, KAFKA, POSTGRES}
    assert later.count(KAFKA) + later.count(POSTGRES) < later.count("intake") * 2


def test_schedule_without_backing_restarts_kills_services_only() -> None:
    targets = fault_schedule(random.Random(1), SERVICE_ORDER, backing=False)
    assert {next(targets) for _ in range(200)} == set(SERVICE_ORDER)


def test_compare_statuses_names_lost_and_extra_rows() -> None:
    expected = {("ppwp", "1"): ["accepted", "rejected"], ("dpr", "2"): ["accepted"]}
    actual = {("ppwp", "1"): ["accepted", "accepted"], ("dpr", "3"): ["accepted"]}
    lost, extra = compare_statuses(expected, actual)
    assert lost == ["dpr 2: accepted missing", "ppwp 1: rejected missing"]
    assert extra == ["dpr 3: unexpected accepted", "ppwp 1: unexpected accepted"]


@pytest.mark.e2e
@pytest.mark.timeout(600)
async def test_day_under_faults_counts_every_acknowledged_form_once(tmp_path: Path) -> None:
    started = time.monotonic()
    stack = start_private_stack()
    supervisor: ServiceSupervisor | None = None
    pipeline = None
    try:
        conn = await connect(stack.database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pipeline = await start_pipeline(stack.kafka_bootstrap, stack.database_url, tmp_path)
        supervisor = ServiceSupervisor(pipeline).start()
        prepared = await prepare_day(
            stack.database_url, "pemilu-2024", token_secret=TEST_TOKEN_SECRET, seed=8,
            tps_limit=TPS_LIMIT, contests=CONTESTS,
        )  # fmt: skip
        truth_path = tmp_path / "truth.json"
        write_truth(truth_path, prepared.plan, prepared.roster)
        config = ChaosConfig(
            seed=8, kill_every_s=5.0, duration_s=DAY_SECONDS, day_timeout_s=DAY_SECONDS + 60,
            drain_timeout_s=120.0,
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

        # The faults really happened: every service killed, each backing server crashed.
        assert sum(report.kills.values()) >= 6, context
        assert set(report.kills) == set(SERVICE_ORDER), context
        assert report.backing_restarts[KAFKA] >= 1, context
        assert report.backing_restarts[POSTGRES] >= 1, context
        assert_counted_once(report, len(prepared.plan.sends), context)
    finally:
        if supervisor is not None:
            await supervisor.stop()
        if pipeline is not None:
            pipeline.stop()
        stop_private_stack(stack)
