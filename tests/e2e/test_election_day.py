"""A whole simulated election day on the Banyuasin roster through the four real services."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from deskpemilu.simulator.plan import Operators, plan_day
from deskpemilu.simulator.run import DayRunner, load_operators, mint_tokens
from deskpemilu.simulator.truth import expected_statuses, write_truth
from deskpemilu.simulator.verify import verify_against_api
from shared.db import connect
from shared.roster_db import fetch_election_roster
from tests.e2e.pipeline import rejected_codes, start_pipeline, wait_until
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


async def test_banyuasin_day_counts_every_vote_exactly_once(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    conn = await connect(scratch_database)
    try:
        roster = await fetch_election_roster(conn, "pemilu-2024")
        assert roster is not None
        operators, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, operators)
        plan = plan_day(roster, Operators.from_list(operators), seed=14022024)
        truth_path = tmp_path / "truth.json"
        write_truth(truth_path, plan, roster)
        runner = DayRunner(
            plan, intake_url=pipeline.intake_url, tokens=tokens, phones=phones,
            secrets=pipeline.secrets, duration_s=0, concurrency=16,
        )  # fmt: skip
        stats = await runner.run()
        assert stats.failures == [], stats.failures[:5]
        expected = expected_statuses(plan)
        distinct = sum(len(v) for v in expected.values())

        async def all_recorded() -> bool:
            count = await conn.fetchval("SELECT count(*) FROM submissions")
            return bool(count >= distinct)

        assert await wait_until(all_recorded, timeout_s=180), pipeline.logs()
        await asyncio.sleep(2)  # the last batch's totals commit with its submissions

        # Every TPS of every contest: each send ended as the plan says.
        rows = await conn.fetch(
            "SELECT contest, tps, status, violations FROM submissions WHERE election = $1",
            "pemilu-2024",
        )
        actual: dict[tuple[str, str], list[str]] = defaultdict(list)
        codes: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in rows:
            actual[(row["contest"], row["tps"])].append(row["status"])
            if row["status"] == "rejected":
                codes[(row["contest"], row["tps"])] |= {v["code"] for v in row["violations"]}
        wrong = {k: (sorted(actual.get(k, [])), v) for k, v in expected.items()
                 if sorted(actual.get(k, [])) != v}  # fmt: skip
        assert not wrong, f"{len(wrong)} TPS ended otherwise, e.g. {list(wrong.items())[:5]}"
        missing_codes = {k: c - codes[k] for k, c in rejected_codes(plan).items() if c - codes[k]}
        assert not missing_codes, missing_codes
        disputed = await conn.fetch(
            "SELECT contest, tps FROM tps_results WHERE status = 'disputed' AND election = $1",
            "pemilu-2024",
        )
        assert {(r["contest"], r["tps"]) for r in disputed} == plan.disputed

        # The read API shows exactly the ground truth at every area, TPS included.
        import orjson

        truth = orjson.loads(truth_path.read_bytes())
        viewer = next(op for op in operators if op.role == "viewer")
        checked, diffs = await asyncio.to_thread(
            verify_against_api, pipeline.api_url, tokens[viewer.id], truth
        )
        assert diffs == [], [str(d) for d in diffs[:20]]
        assert checked >= 5 * (1 + 21 + 313 + 2564)
    finally:
        await conn.close()
        pipeline.stop()
