"""Two instances of each service in their consumer groups while any of them is SIGKILLed.

Two intakes (the simulated phones spread their sends over both and retry on the other),
two validators and two aggregators sharing their groups' partitions, two screeners sharing
the kecamatan, one api. Every instance is SIGKILLed at least once and restarted; partitions
move between the instances at every death and return: totals must still equal the ground
truth, with nothing lost and nothing counted twice. Kafka and PostgreSQL keep running here
(their crashes: tests/e2e/test_chaos.py and test_kafka_cluster.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from deskpemilu.chaos import Chaos, ChaosConfig, prepare_day
from deskpemilu.simulator.truth import write_truth
from shared.form import Contest
from tests.e2e.chaos_checks import assert_counted_once, report_context
from tests.e2e.pipeline import SERVICE_ORDER, ServiceSupervisor, start_pipeline
from tests.procs import TEST_TOKEN_SECRET

SERVICES = (*SERVICE_ORDER, "screener")
REPLICAS = {"intake": 2, "validator": 2, "aggregator": 2, "screener": 2}
CONTESTS = (Contest.PPWP, Contest.DPR)
TPS_LIMIT = 150
DAY_SECONDS = 60.0


@pytest.mark.e2e
@pytest.mark.timeout(420)
async def test_two_instances_of_each_service_count_every_form_once_while_killed(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    pipeline = await start_pipeline(
        kafka_bootstrap, scratch_database, tmp_path, services=SERVICES, replicas=REPLICAS,
        VALIDATOR_SESSION_TIMEOUT_MS="6000", AGGREGATOR_SESSION_TIMEOUT_MS="6000",
    )  # fmt: skip
    supervisor = ServiceSupervisor(pipeline).start()
    try:
        instances = set(pipeline.services)
        assert len(instances) == 9, instances
        assert len(pipeline.intake_urls) == 2
        prepared = await prepare_day(
            scratch_database, "pemilu-2024", token_secret=TEST_TOKEN_SECRET, seed=28,
            tps_limit=TPS_LIMIT, contests=CONTESTS,
        )  # fmt: skip
        truth_path = tmp_path / "truth.json"
        write_truth(truth_path, prepared.plan, prepared.roster)
        config = ChaosConfig(
            seed=28, kill_every_s=3.5, backing_restarts=False, duration_s=DAY_SECONDS,
            day_timeout_s=DAY_SECONDS + 90, drain_timeout_s=120.0, concurrency=8,
        )  # fmt: skip
        chaos = Chaos(supervisor, None, config, on_event=print)
        report = await chaos.run(
            prepared, orjson.loads(truth_path.read_bytes()), intake_url=pipeline.intake_urls,
            api_url=pipeline.api_url, database_url=scratch_database, secrets=pipeline.secrets,
        )  # fmt: skip
        print(report.summary())
        assert report.stats is not None
        print(f"acknowledged per intake: {dict(report.stats.by_intake)}")
        print(f"service exits (killed or crashed): {supervisor.exits}")
        print(f"setup + run + checks: {time.monotonic() - started:.0f}s")
        context = report_context(report, tmp_path)
        # Every instance of every service was SIGKILLed at least once.
        assert set(report.kills) == instances, context
        assert set(report.kills_by_service) == set(SERVICES), context
        assert report.backing_restarts == {}, context
        # Both intakes took forms (the sends are spread, a retry goes to the other).
        assert set(report.stats.by_intake) == set(pipeline.intake_urls), context
        assert min(report.stats.by_intake.values()) > len(prepared.plan.sends) // 10, context
        assert_counted_once(report, len(prepared.plan.sends), context)
    finally:
        await supervisor.stop()
        pipeline.stop()
