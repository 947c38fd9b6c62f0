"""The benchmarks' lean sender: a day through every channel, paced by the intake's rate limit,
ends exactly as the plan says, as the httpx sender's day does (test_election_day)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from deskpemilu.simulator.plan import Operators, plan_day
from deskpemilu.simulator.run import DayRunner, load_operators, mint_tokens
from deskpemilu.simulator.truth import expected_statuses
from shared.db import connect
from shared.events import Channel
from shared.roster_db import fetch_election_roster
from tests.e2e.pipeline import start_pipeline, wait_until
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


async def test_the_lean_sender_delivers_a_day_with_retries_in_plan_order(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    # A tight per-operator limit: the intake answers 429 (and WhatsApp/SMS "not stored") often,
    # so the lean client's retries, and their order per TPS, are exercised.
    pipeline = await start_pipeline(
        kafka_bootstrap, scratch_database, tmp_path, INTAKE_RATE_PER_S="4", INTAKE_RATE_BURST="4"
    )
    conn = await connect(scratch_database)
    try:
        roster = await fetch_election_roster(conn, "pemilu-2024")
        assert roster is not None
        operators, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, operators)
        plan = plan_day(roster, Operators.from_list(operators), seed=7, tps_limit=40)
        channels = {Channel.API, Channel.BATCH, Channel.WHATSAPP, Channel.SMS}
        assert channels <= {s.channel for s in plan.sends}
        runner = DayRunner(
            plan, intake_url=pipeline.intake_url, tokens=tokens, phones=phones,
            secrets=pipeline.secrets, duration_s=0, concurrency=16, client="lean",
        )  # fmt: skip
        assert runner.prepare() > 0
        stats = await runner.run()
        assert stats.failures == [], stats.failures[:5]
        assert stats.retries > 0 and stats.by_status[429] > 0, dict(stats.by_status)
        expected = expected_statuses(plan)
        distinct = sum(len(v) for v in expected.values())

        async def all_recorded() -> bool:
            count = await conn.fetchval("SELECT count(*) FROM submissions")
            return bool(count >= distinct)

        assert await wait_until(all_recorded, timeout_s=120), pipeline.logs()
        rows = await conn.fetch(
            "SELECT contest, tps, status FROM submissions WHERE election = $1", "pemilu-2024"
        )
        actual: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            actual[(row["contest"], row["tps"])].append(row["status"])
        wrong = {k: (sorted(actual.get(k, [])), v) for k, v in expected.items()
                 if sorted(actual.get(k, [])) != v}  # fmt: skip
        assert not wrong, f"{len(wrong)} TPS ended otherwise, e.g. {list(wrong.items())[:5]}"
    finally:
        await conn.close()
        pipeline.stop()
