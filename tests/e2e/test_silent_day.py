"""A simulated day that leaves TPS silent, through the four real services: the silent-TPS list
and the operators' activity report match the simulator's ground truth exactly."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from deskpemilu.simulator.incidents import expected_incidents, plan_incidents, send_incidents
from deskpemilu.simulator.plan import (
    DayPlan,
    MistakeRates,
    Operators,
    SilenceRates,
    plan_day,
    split_at,
)
from deskpemilu.simulator.run import DayRunner, load_operators, mint_tokens
from deskpemilu.simulator.truth import expected_activity, expected_silent
from shared.db import connect
from shared.events import utcnow
from shared.form import Contest
from shared.roster_db import fetch_election_roster
from tests.e2e.browser import CHROMIUM, browser_page
from tests.e2e.pipeline import REPO_ROOT, Pipeline, start_pipeline, wait_until
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

SCREENSHOT = REPO_ROOT / "artifacts" / "silent.png"

ELECTION = "pemilu-2024"
KECAMATAN = "16.07.01"
# 16.07.01 (its 173 TPS) reports; the rest of Banyuasin is silent too, as on a day when only
# one kecamatan has started.
TPS_LIMIT = 173
CONTESTS = [Contest.PPWP, Contest.DPD]
RATES = MistakeRates(
    typo_sah=0.04, above_dpt=0.01, retry=0.04, resend_same=0.03, revision=0.05, conflict=0.04,
    unknown_tps=0.02,
)  # fmt: skip
SILENCE = SilenceRates(silent=0.05, quit=0.05)


def _submissions(plan: DayPlan) -> int:
    return len({(s.operator.id, s.idempotency_key) for s in plan.sends})


async def _run(
    pipeline: Pipeline, part: DayPlan, tokens: dict[str, str], phones: dict[str, str]
) -> None:
    runner = DayRunner(
        part, intake_url=pipeline.intake_url, tokens=tokens, phones=phones,
        secrets=pipeline.secrets, duration_s=0, concurrency=16,
    )  # fmt: skip
    stats = await runner.run()
    assert stats.failures == [], stats.failures[:5]


async def test_silent_list_and_activity_report_match_the_ground_truth(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    try:
        await _day(pipeline, scratch_database)
    finally:
        pipeline.stop()


async def _day(pipeline: Pipeline, database_url: str) -> None:
    conn = await connect(database_url)
    try:
        roster = await fetch_election_roster(conn, ELECTION)
        assert roster is not None
        operators, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, operators)
        plan = plan_day(
            roster, Operators.from_list(operators), seed=15, contests=CONTESTS,
            tps_limit=TPS_LIMIT, rates=RATES, silence=SILENCE,
        )  # fmt: skip
        assert plan.silenced, "the day must leave some TPS silent"
        # The deadline falls between the two halves of the day: sent apart, it is exact.
        cut = plan.sends[len(plan.sends) // 2].at_s
        before, after = split_at(plan, cut)

        async def recorded(n: int) -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM submissions") >= n)

        await _run(pipeline, before, tokens, phones)
        assert await wait_until(lambda: recorded(_submissions(before)), timeout_s=60), (
            pipeline.logs()
        )
        deadline = utcnow()
        await _run(pipeline, after, tokens, phones)
        assert await wait_until(lambda: recorded(_submissions(plan)), timeout_s=60), pipeline.logs()
        # Incident reports, some critical, from the usual senders of their TPS.
        incidents = plan_incidents(
            roster,
            Operators.from_list(operators),
            rate=0.05,
            critical_share=0.3,
            seed=15,
            only={s.form.tps for s in plan.sends},
        )
        assert incidents
        async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=30) as intake:
            assert await send_incidents(intake, tokens, incidents) == []

        async def incidents_recorded() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM incidents") >= len(incidents))

        assert await wait_until(incidents_recorded, timeout_s=60), pipeline.logs()
        results = sum(len(roster.tps) - len(v) for v in expected_silent(plan, roster).values())

        async def counted() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM tps_results") >= results)

        assert await wait_until(counted, timeout_s=30), pipeline.logs()
    finally:
        await conn.close()

    silent_truth = expected_silent(plan, roster)
    activity_truth = expected_activity(plan, deadline_s=cut)
    by_id = {op.id: op for op in operators}
    admin = tokens["admin-16.07"]
    camat = tokens[f"camat-{KECAMATAN}"]
    async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=30) as api:

        async def get(path: str, token: str, **params: str) -> httpx.Response:
            return await api.get(path, params=params, headers={"Authorization": f"Bearer {token}"})

        # The silent list of the whole kabupaten, per contest, is the truth's, TPS for TPS.
        for contest in CONTESTS:
            answer = await get(f"/v1/silent/{ELECTION}/{contest}", admin, area="16.07")
            assert answer.status_code == 200, answer.text
            view = answer.json()
            assert [s["tps"] for s in view["silent"]] == silent_truth[contest]
            assert view["area"]["expected"] == len(roster.tps)
            assert view["area"]["received"] == len(roster.tps) - len(silent_truth[contest])
            assert view["series"][-1]["cumulative"] == view["area"]["received"]
            kec = {c["code"]: c for c in view["children"]}
            assert kec[KECAMATAN]["missing"] == sum(
                t.startswith(KECAMATAN + ".") for t in silent_truth[contest]
            )
            first = next(s for s in view["silent"] if s["kecamatan_code"] == KECAMATAN)
            assert [o["id"] for o in first["operators"]] == [f"op-{KECAMATAN}", f"op2-{KECAMATAN}"]
            assert first["operators"][0]["phone"] == phones[f"op-{KECAMATAN}"]

        # A camat sees their kecamatan, by default, and nothing else.
        mine = (await get(f"/v1/silent/{ELECTION}/PPWP", camat)).json()
        assert mine["area"]["code"] == KECAMATAN
        assert [s["tps"] for s in mine["silent"]] == [
            t for t in silent_truth["PPWP"] if t.startswith(KECAMATAN + ".")
        ]
        for area in ("16.07", "16.07.02"):
            refused = await get(f"/v1/silent/{ELECTION}/PPWP", camat, area=area)
            assert refused.status_code == 403
            assert refused.json()["code"] == "SCOPE_OUTSIDE"
        viewer = await get(f"/v1/silent/{ELECTION}/PPWP", tokens["viewer-16.07"])
        assert viewer.status_code == 403

        # The activity report: every operator's figures are the truth's.
        answer = await get(
            f"/v1/activity/{ELECTION}", admin, area="16.07", deadline=deadline.isoformat()
        )
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["incidents_counted"] is True
        lines = {o["operator_id"]: o for o in report["operators"]}
        reported = expected_incidents(incidents)
        assert {k: v["incidents"] for k, v in lines.items() if v["incidents"]} == reported
        figures = ("tps_sent", "pairs_sent", "contests", "submissions", "sent_by_deadline",
                   "channels", "rejections", "corrections")  # fmt: skip
        for op_id, truth in activity_truth.items():
            line = lines[op_id]
            assert {f: line[f] for f in figures} == {f: truth[f] for f in figures}, op_id
            first_send = datetime.fromisoformat(line["first_send"])
            last_send = datetime.fromisoformat(line["last_send"])
            assert first_send <= last_send
        field_ops = {o.id for o in operators if o.role == "operator"}
        for op_id in field_ops - set(activity_truth):
            assert lines[op_id]["submissions"] == 0 and lines[op_id]["pairs_sent"] == 0
        assert set(lines) == field_ops | set(activity_truth)
        assert sum(o["rejections"] for o in lines.values()) > 0
        assert sum(o["corrections"] for o in lines.values()) > 0
        assert any(0 < o["sent_by_deadline"] < o["pairs_sent"] for o in lines.values())

        # The camat's CSV holds their kecamatan's operators only, with the same figures.
        exported = await get(
            f"/v1/activity/{ELECTION}/export.csv", camat, deadline=deadline.isoformat()
        )
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert {r["operator_id"] for r in rows} >= {f"op-{KECAMATAN}", f"op2-{KECAMATAN}"}
        usual = next(r for r in rows if r["operator_id"] == f"op-{KECAMATAN}")
        truth = activity_truth[f"op-{KECAMATAN}"]
        assert int(usual["tps_contests_sent"]) == truth["pairs_sent"]
        assert int(usual["sent_by_deadline"]) == truth["sent_by_deadline"]
        assert usual["channels"].split() == truth["channels"]
        assert all(
            any(s.startswith(KECAMATAN) for s in by_id[r["operator_id"]].scope) for r in rows
        )
        xlsx = await get(f"/v1/silent/{ELECTION}/DPD/export.xlsx", camat)
        assert xlsx.status_code == 200
        assert xlsx.content[:2] == b"PK"

    if shutil.which(CHROMIUM) is not None:
        await _dashboard(pipeline, camat, silent_truth["PPWP"])


async def _dashboard(pipeline: Pipeline, token: str, silent: list[str]) -> None:
    """The camat's dashboard shows the panel: their kecamatan's silent TPS and the chart."""
    here = [t for t in silent if t.startswith(KECAMATAN + ".")]
    async with browser_page() as (page, errors):
        await page.goto(f"{pipeline.api_url}/?token={token}#/hasil/{ELECTION}/PPWP/{KECAMATAN}")
        await page.wait_for_selector("#silent-card:not([hidden]) #silent-list li")
        listed = await page.locator("#silent-list li[data-tps]").evaluate_all(
            "items => items.map(li => li.dataset.tps)"
        )
        assert listed == here[:100]
        assert await page.locator("#silent-count").inner_text() == str(len(here))
        assert await page.locator("#silent-chart path").count() == 1
        assert await page.locator("#silent-children tbody tr").count() > 1
        assert errors == []
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.locator("#silent-card").scroll_into_view_if_needed()
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
