"""A stuffed TPS sent through the intake is flagged on the dashboard (headless Chromium).

The whole pipeline and the screener run as real processes. A simulated kecamatan's PPWP forms go
in as one batch, then a stuffed form of one more TPS through the app; the screener's finding
shows in the dashboard's 'Temuan lintas TPS' panel and the forensics panel draws. Saves
artifacts/anomalies.png.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from pathlib import Path

import httpx
import pytest

from deskpemilu.quickcount.rosters import roster_from_folder
from deskpemilu.simulator.detection import day_forms
from deskpemilu.simulator.manipulation import stuff
from deskpemilu.simulator.run import load_operators, mint_tokens
from shared.db import connect
from shared.events import Role
from shared.form import Contest
from tests.e2e.browser import CHROMIUM, browser_page
from tests.e2e.pipeline import BANYUASIN_PEMILU, REPO_ROOT, start_pipeline
from tests.procs import TEST_TOKEN_SECRET, ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

SCREENSHOT = REPO_ROOT / "artifacts" / "anomalies.png"
ELECTION = "pemilu-2024"
KECAMATAN = "16.07.01"
OPERATOR = "op-16.07.01"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_a_stuffed_tps_through_the_intake_is_flagged_on_the_dashboard(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    screener = ServiceProcess(
        "screener", pipeline.env | {"SCREENER_MIN_INTERVAL_S": "0.2"}, tmp_path / "screener.log"
    )
    pipeline.services["screener"] = screener.start(timeout_s=60)
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            chosen = [op for op in operators if op.id == OPERATOR or op.role is Role.VIEWER]
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
        finally:
            await conn.close()
        viewer = next(op.id for op in chosen if op.role is Role.VIEWER)

        roster = roster_from_folder(BANYUASIN_PEMILU)
        forms, _ = day_forms(roster, Contest.PPWP, seed=3)
        here = sorted(c for c in forms if c.startswith(KECAMATAN + "."))
        stuffed_tps = here[len(here) // 2]
        stuffed, detail = stuff(forms[stuffed_tps], roster.tps[stuffed_tps].dpt, random.Random(4))
        headers = {"Authorization": f"Bearer {tokens[OPERATOR]}"}
        async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=30) as intake:
            batch = {
                "items": [
                    {"idempotency_key": f"e2e-{c}", "form": forms[c].model_dump(mode="json")}
                    for c in here
                    if c != stuffed_tps
                ]
            }
            sent = await intake.post("/v1/submissions/batch", json=batch, headers=headers)
            assert sent.status_code == 207, sent.text
            assert {r["status"] for r in sent.json()["results"]} == {202}
            one = await intake.post(
                "/v1/submissions",
                json=stuffed.model_dump(mode="json"),
                headers=headers | {"Idempotency-Key": "e2e-stuffed"},
            )
            assert one.status_code == 202, one.text

        viewer_headers = {"Authorization": f"Bearer {tokens[viewer]}"}
        deadline = time.monotonic() + 90
        found: list[dict[str, object]] = []
        async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=10) as api:
            while time.monotonic() < deadline and not found:
                answer = (await api.get(f"/v1/findings/{ELECTION}", headers=viewer_headers)).json()
                found = [f for f in answer["findings"] if f["tps"] == stuffed_tps]
                await asyncio.sleep(0.5)
        assert found, pipeline.logs()
        assert {f["severity"] for f in found} & {"warning", "critical"}
        print(f"stuffed {stuffed_tps} (+{detail['added']} votes): {[f['code'] for f in found]}")

        async with browser_page() as (page, errors):
            await page.goto(f"{pipeline.api_url}/?token={tokens[viewer]}")
            await page.wait_for_selector("[data-testid=total-c2]")
            item = page.locator(f"#screen-findings li[data-tps='{stuffed_tps}']").first
            await item.wait_for(timeout=30_000)
            text = await item.inner_text()
            assert "partisipasi" in text, text
            count = int(await page.locator("#finding-count").inner_text())
            assert count >= 1
            kec_table = await page.locator("#finding-kecamatan").inner_text()
            assert "Temuan" in kec_table
            await page.wait_for_selector("#forensics-heatmap rect")
            assert "p =" in await page.locator("#forensics-pvalue").inner_text()
            assert errors == []
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.locator("#findings-card").scroll_into_view_if_needed()
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        pipeline.stop()


HOLD_CODES = "STUFFING_PATTERN,TURNOUT_OUTLIER_DESA,TURNOUT_OUTLIER_KECAMATAN,TURNOUT_FULL"


async def _kabupaten(api: httpx.AsyncClient, headers: dict[str, str]) -> tuple[dict[str, int], int]:
    body = (await api.get(f"/v1/results/{ELECTION}/PPWP/16.07", headers=headers)).json()
    return {t["key"]: t["votes"] for t in body["totals"]}, body["progress"]["tps_reported"]


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_a_stuffed_tps_is_held_out_of_the_totals_until_released(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    env = pipeline.env | {"SCREENER_MIN_INTERVAL_S": "0.2", "SCREENER_HOLD_CODES": HOLD_CODES}
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            wanted = {OPERATOR, "camat-16.07.01"}
            chosen = [op for op in operators if op.id in wanted or op.role is Role.VIEWER]
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
        finally:
            await conn.close()
        viewer = next(op.id for op in chosen if op.role is Role.VIEWER)
        roster = roster_from_folder(BANYUASIN_PEMILU)
        forms, _ = day_forms(roster, Contest.PPWP, seed=3)
        here = sorted(c for c in forms if c.startswith(KECAMATAN + "."))
        stuffed_tps = here[len(here) // 2]
        stuffed, _ = stuff(forms[stuffed_tps], roster.tps[stuffed_tps].dpt, random.Random(4))
        clean = [c for c in here if c != stuffed_tps]
        expected_clean: dict[str, int] = {}
        for c in clean:
            for line, v in forms[c].votes_by_candidate().items():
                expected_clean[line] = expected_clean.get(line, 0) + v
        headers = {"Authorization": f"Bearer {tokens[OPERATOR]}"}
        view = {"Authorization": f"Bearer {tokens[viewer]}"}
        async with (
            httpx.AsyncClient(base_url=pipeline.intake_url, timeout=30) as intake,
            httpx.AsyncClient(base_url=pipeline.api_url, timeout=10) as api,
        ):
            items = [
                {"idempotency_key": f"h-{c}", "form": forms[c].model_dump(mode="json")}
                for c in clean
            ]
            sent = await intake.post(
                "/v1/submissions/batch", json={"items": items}, headers=headers
            )
            assert sent.status_code == 207 and {r["status"] for r in sent.json()["results"]} == {
                202
            }
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                totals, reported = await _kabupaten(api, view)
                if reported == len(clean):
                    break
                await asyncio.sleep(0.5)
            assert totals == expected_clean, pipeline.logs()
            # The screener starts on the complete clean kecamatan: screens of a half-reported
            # one may hold a clean TPS, and a hold waits for a camat (docs/ANOMALIES.md).
            pipeline.services["screener"] = ServiceProcess(
                "screener", env, tmp_path / "s.log"
            ).start(timeout_s=60)
            one = await intake.post(
                "/v1/submissions",
                json=stuffed.model_dump(mode="json"),
                headers=headers | {"Idempotency-Key": "h-stuffed"},
            )
            assert one.status_code == 202, one.text

            # The screener holds it: reported, but its votes are out of the totals. (Until the
            # screens have seen the whole kecamatan again, another TPS may be held for a moment.)
            stuffed_votes = stuffed.votes_by_candidate()
            quarantine: dict[str, object] = {}
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                quarantine = (
                    await api.get(f"/v1/quarantine/{ELECTION}/PPWP/16.07", headers=view)
                ).json()
                risk = quarantine.get("risk")
                if (
                    quarantine["held_tps"] == 1
                    and isinstance(risk, dict)
                    and risk.get("held") == stuffed_votes
                ):
                    break
                await asyncio.sleep(0.5)
            assert quarantine["held_tps"] == 1, pipeline.logs()
            totals, reported = await _kabupaten(api, view)
            assert reported == len(here)
            assert totals == expected_clean
            assert quarantine["risk"]["held"] == stuffed_votes  # type: ignore[index]

            async with browser_page() as (page, _):
                await page.goto(f"{pipeline.api_url}/?token={tokens[viewer]}")
                held = page.locator(f"#quarantine-list li[data-tps='{stuffed_tps}']")
                await held.wait_for(timeout=30_000)
                assert "dikarantina" in await held.inner_text()
                assert "Suara dikarantina" in await page.locator("#quarantine-summary").inner_text()
                await page.locator(
                    f"#screen-findings li[data-tps='{stuffed_tps}']"
                ).first.wait_for()
                await page.locator("#quarantine-card").scroll_into_view_if_needed()
                await page.screenshot(
                    path=str(REPO_ROOT / "artifacts" / "quarantine.png"), full_page=True
                )

            # A camat releases it through the review route: totals move by exactly its votes.
            camat = {"Authorization": f"Bearer {tokens['camat-16.07.01']}"}
            released = await api.post(
                f"/v1/quarantine/{ELECTION}/PPWP/{stuffed_tps}/release",
                json={"note": "dicek dengan foto C.Hasil"},
                headers=camat | {"Idempotency-Key": "release-1"},
            )
            assert released.status_code == 202, released.text
            want = {k: expected_clean.get(k, 0) + stuffed_votes.get(k, 0) for k in expected_clean}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                totals, reported = await _kabupaten(api, view)
                if totals == want:
                    break
                await asyncio.sleep(0.5)
            assert totals == want and reported == len(here), pipeline.logs()
            after = (await api.get(f"/v1/quarantine/{ELECTION}/PPWP/16.07", headers=view)).json()
            assert after["held_tps"] == 0
            # The screener does not hold the same form again once released.
            await asyncio.sleep(3)
            again = (await api.get(f"/v1/quarantine/{ELECTION}/PPWP/16.07", headers=view)).json()
            assert again["held_tps"] == 0
            assert (await _kabupaten(api, view))[0] == want
    finally:
        pipeline.stop()
