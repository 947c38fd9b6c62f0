"""The quick count end to end: draw a sample, simulate the day with sample TPS first, and find
the API's interval holding the final truth while most TPS have not reported yet; then the
dashboard panel in headless Chromium (saves artifacts/quickcount.png).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright

from deskpemilu.simulator.plan import DayPlan, Operators, plan_day
from deskpemilu.simulator.run import DayRunner, load_operators, mint_tokens
from deskpemilu.simulator.truth import final_shares
from shared.db import connect
from shared.events import Role
from shared.form import Contest
from shared.roster_db import fetch_election_roster
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pipeline import REPO_ROOT, Pipeline, start_pipeline, wait_until
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PILKADA = REPO_ROOT / "data" / "rosters" / "pilkada-2024-banyuasin"
ELECTION = "pilkada-2024"
SCREENSHOT = REPO_ROOT / "artifacts" / "quickcount.png"


@dataclass
class Day:
    """A running pipeline with a drawn sample and the planned day."""

    pipeline: Pipeline
    plan: DayPlan
    sample: list[str]
    tokens: dict[str, str]
    phones: dict[str, str]
    viewer: str
    truth: dict[str, float]  # final PILBUP shares of the whole day


async def _draw(pipeline: Pipeline) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpemilu.cli", "quickcount", "draw", "--election", ELECTION,
        "--seed", "20241127", env={**os.environ, **pipeline.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()


async def _start_day(kafka_bootstrap: str, database_url: str, log_dir: Path) -> Day:
    pipeline = await start_pipeline(kafka_bootstrap, database_url, log_dir, roster=PILKADA)
    await _draw(pipeline)
    conn = await connect(database_url)
    try:
        roster = await fetch_election_roster(conn, ELECTION)
        assert roster is not None
        sample = [r["tps"] for r in await conn.fetch("SELECT tps FROM quickcount_sample_tps")]
        operators, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, operators)
    finally:
        await conn.close()
    plan = plan_day(
        roster, Operators.from_list(operators), seed=27112024, contests=[Contest.PILBUP],
        sample=sample,
    )  # fmt: skip
    viewer = next(op.id for op in operators if op.role is Role.VIEWER)
    return Day(pipeline, plan, sample, tokens, phones, viewer, final_shares(plan, roster)["PILBUP"])


async def _send(day: Day, plan: DayPlan) -> None:
    runner = DayRunner(
        plan, intake_url=day.pipeline.intake_url, tokens=day.tokens, phones=day.phones,
        secrets=day.pipeline.secrets, duration_s=0, concurrency=16,
    )  # fmt: skip
    stats = await runner.run()
    assert stats.failures == [], stats.failures[:5]


async def _quickcount(day: Day) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=day.pipeline.api_url, timeout=30,
        headers={"Authorization": f"Bearer {day.tokens[day.viewer]}"},
    ) as client:  # fmt: skip
        answer = await client.get(f"/v1/quickcount/{ELECTION}/PILBUP")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


async def _sample_reported(day: Day) -> dict[str, Any]:
    first = set(day.sample)
    sends = [s for s in day.plan.sends if s.form.tps in first]
    # Sample TPS (10% of all) report first: most of the day's earliest reports are theirs.
    early = day.plan.sends[: len(sends)]
    assert sum(1 for s in early if s.form.tps in first) >= 0.5 * len(early)
    await _send(day, replace(day.plan, sends=sends))

    async def everything_in() -> dict[str, Any] | None:
        body = await _quickcount(day)
        return body if body["progress"]["sample_reported"] == len(day.sample) else None

    body: dict[str, Any] | None = await wait_until(everything_in, timeout_s=180)
    assert body is not None, day.pipeline.logs()
    return body


async def test_the_sample_interval_holds_the_final_truth(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    day = await _start_day(kafka_bootstrap, scratch_database, tmp_path)
    try:
        body = await _sample_reported(day)
        assert body["released"] is True  # 27 Nov 2024 15:00 WIB is long past
        qc = body["quick_count"]
        assert qc["reports"] == len(day.sample) == 139  # 10% of the 1,389 TPS
        assert body["progress"]["tps_reported"] < 0.2 * body["progress"]["tps_total"]
        for line in qc["lines"]:
            assert line["low95"] <= day.truth[line["key"]] <= line["high95"], (line, day.truth)
        leader = max(day.truth, key=lambda k: day.truth[k])
        assert qc["lead"]["leader"] == leader and qc["lead"]["decided95"], qc["lead"]

        # The rest of the day: once every TPS is in, the partial count is the final result.
        rest = [s for s in day.plan.sends if s.form.tps not in set(day.sample)]
        await _send(day, replace(day.plan, sends=rest))

        async def all_in() -> dict[str, Any] | None:
            b = await _quickcount(day)
            p = b["progress"]
            return b if p["tps_reported"] == p["tps_total"] else None

        final = await wait_until(all_in, timeout_s=300)
        assert final is not None, day.pipeline.logs()
        for line in final["partial_count"]["lines"]:
            assert line["share"] == pytest.approx(day.truth[line["key"]], abs=1e-9)
            assert line["margin95"] == pytest.approx(0.0, abs=1e-9)
        assert final["quick_count"]["lines"] == qc["lines"]  # the sample alone decides it
    finally:
        day.pipeline.stop()


@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_the_dashboard_panel_shows_the_quick_count(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    day = await _start_day(kafka_bootstrap, scratch_database, tmp_path)
    try:
        body = await _sample_reported(day)
        sentence = body["quick_count"]["sentence"]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 1400})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(f"{day.pipeline.api_url}/?token={day.tokens[day.viewer]}")
                await page.wait_for_selector("#quickcount:not([hidden])", timeout=60_000)
                if await page.locator("#pick-contest").input_value() != "PILBUP":
                    await page.select_option("#pick-contest", "PILBUP")
                await page.wait_for_function(
                    "(want) => document.querySelector('[data-testid=qc-sentence]')"
                    "?.textContent === want",
                    arg=sentence, timeout=60_000,
                )  # fmt: skip
                assert await page.locator(".qc-chart g[data-key]").count() == 2
                rows = page.locator(".qc-progress tbody tr")
                assert await rows.count() == 21
                first = await rows.first.inner_text()
                assert "/" in first
                assert errors == []
                await page.locator("#quickcount").scroll_into_view_if_needed()
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.locator("#quickcount").screenshot(path=str(SCREENSHOT))
            finally:
                await browser.close()
    finally:
        day.pipeline.stop()
