"""PostgreSQL crashing under a running aggregator: its asynchronous commits (ADR 0006) may go with
it. The aggregator stops, its restart seeks to the offsets PostgreSQL kept, and every form lost
is read again from Kafka; the desk ends with every form counted once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from deskpemilu.simulator.plan import Operators, plan_day
from deskpemilu.simulator.run import DayRunner, load_operators, mint_tokens
from deskpemilu.simulator.truth import expected_statuses
from services.aggregator.repository import reset_projections
from shared.db import connect, migrate
from shared.roster_db import fetch_election_roster
from tests.e2e.pipeline import (
    ServiceSupervisor,
    start_pipeline,
    start_private_stack,
    stop_private_stack,
    wait_until,
)
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SUBMISSIONS = "SELECT submission_id, status FROM submissions ORDER BY submission_id"
AREAS = """SELECT election, contest, area_code, suara_sah, suara_tidak_sah, pengguna,
                  tps_reported, dpt_reported, votes
           FROM area_summary ORDER BY election, contest, area_code, shard"""


async def snapshot(database_url: str) -> tuple[list[Any], list[Any]]:
    conn = await connect(database_url)
    try:
        return [tuple(r) for r in await conn.fetch(SUBMISSIONS)], [
            tuple(r) for r in await conn.fetch(AREAS)
        ]
    finally:
        await conn.close()


async def test_commits_lost_in_a_postgres_crash_are_applied_again(tmp_path: Path) -> None:
    stack = start_private_stack()
    pipeline = None
    supervisor: ServiceSupervisor | None = None
    try:
        conn = await connect(stack.database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pipeline = await start_pipeline(
            stack.kafka_bootstrap,
            stack.database_url,
            tmp_path,
            services=("validator", "aggregator", "intake"),
        )
        supervisor = ServiceSupervisor(pipeline).start()
        conn = await connect(stack.database_url)
        try:
            roster = await fetch_election_roster(conn, "pemilu-2024")
            assert roster is not None
            operators, phones = await load_operators(conn)
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, operators)
        finally:
            await conn.close()
        plan = plan_day(roster, Operators.from_list(operators), seed=5, tps_limit=30)
        runner = DayRunner(
            plan, intake_url=pipeline.intake_url, tokens=tokens, phones=phones,
            secrets=pipeline.secrets, duration_s=0, concurrency=8, client="lean",
        )  # fmt: skip
        runner.prepare()
        stats = await runner.run()
        assert stats.failures == [], stats.failures[:5]
        distinct = sum(len(v) for v in expected_statuses(plan).values())

        async def recorded() -> bool:
            submissions, _ = await snapshot(stack.database_url)
            return len(submissions) >= distinct

        assert await wait_until(recorded, timeout_s=120), pipeline.logs()
        before = await snapshot(stack.database_url)
        assert before[1], "the day moved no area totals"

        # What a crash can do to the aggregator's last asynchronous commits, made certain: its
        # writes and their offsets gone. Then PostgreSQL crashes; no form arrives after it.
        conn = await connect(stack.database_url)
        try:
            await reset_projections(conn, [pipeline.env["TOPIC_PREFIX"] + "aggregator"])
        finally:
            await conn.close()
        stack.run("restart-postgres", "--hard")

        async def restored() -> bool:
            try:
                return await snapshot(stack.database_url) == before
            except (OSError, asyncpg.PostgresError):
                return False

        assert await wait_until(restored, timeout_s=120), pipeline.logs()
        aggregator_exits = [code for name, code in supervisor.exits if name == "aggregator"]
        assert aggregator_exits and all(code != 0 for code in aggregator_exits), supervisor.exits
    finally:
        if supervisor is not None:
            await supervisor.stop()
        if pipeline is not None:
            pipeline.stop()
        stop_private_stack(stack)
