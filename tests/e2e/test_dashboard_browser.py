"""The dashboard in headless Chromium: totals show; a form sent to the intake shows up live.

Needs Debian's chromium (/usr/bin/chromium; `apt-get install -y chromium`); playwright drives it
but never downloads a browser of its own. Saves artifacts/dashboard.png.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.run import load_operators, mint_tokens
from shared.db import connect
from shared.events import Role
from tests.e2e.browser import CHROMIUM, browser_page
from tests.e2e.pipeline import REPO_ROOT, start_pipeline
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

SCREENSHOT = REPO_ROOT / "artifacts" / "dashboard.png"
ELECTION = "pemilu-2024"
VOTES = {"1": 31, "2": 77, "3": 23}
TIDAK_SAH = 3


async def send_form(
    intake_url: str, token: str, tps: str, key: str | None = None
) -> httpx.Response:
    """POST the PPWP form with VOTES for a TPS to the intake, as the operator app does."""
    form = {
        "election": ELECTION,
        "contest": "PPWP",
        "tps": tps,
        "suara_calon": VOTES,
        "suara_sah": sum(VOTES.values()),
        "suara_tidak_sah": TIDAK_SAH,
    }
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with httpx.AsyncClient(base_url=intake_url, timeout=10) as intake:
        return await intake.post("/v1/submissions", json=form, headers=headers)


async def page_totals(page: Page) -> tuple[dict[str, int], int]:
    """The kabupaten totals per paslon and the TPS-reported count, as the page shows them."""
    votes = {}
    for key in ("c1", "c2", "c3"):
        cell = page.locator(f"[data-testid=total-{key}] .votes")
        votes[key] = int(await cell.get_attribute("data-votes") or "-1")
    reported = await page.locator("#tps-progress").get_attribute("data-reported")
    return votes, int(reported or "-1")


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_dashboard_shows_a_new_form_without_reload(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            chosen = [op for op in operators if op.id == "op-16.07.01" or op.role is Role.VIEWER]
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
            tps = await conn.fetchval(
                "SELECT min(code) FROM tps WHERE election = $1 AND code LIKE '16.07.01.%' "
                "AND dpt >= 200",
                ELECTION,
            )
        finally:
            await conn.close()
        viewer = next(op.id for op in chosen if op.role is Role.VIEWER)

        async with browser_page() as (page, errors):
            await page.goto(f"{pipeline.api_url}/?token={tokens[viewer]}")
            await page.wait_for_selector("[data-testid=total-c2]")
            await page.wait_for_selector("#live.on")
            assert "token=" not in page.url  # taken into localStorage, out of the URL
            assert await page.locator("#area-title").inner_text() == "Kabupaten Banyuasin"
            before, reported_before = await page_totals(page)
            assert reported_before == 0 and before == {"c1": 0, "c2": 0, "c3": 0}
            # Anything that reloads the page would drop this marker.
            await page.evaluate("window.__noReload = 'still here'")

            operator = tokens["op-16.07.01"]
            sent = await send_form(pipeline.intake_url, operator, tps, "browser-test-1")
            assert sent.status_code == 202, sent.text
            started = time.monotonic()

            expected = {f"c{no}": before[f"c{no}"] + v for no, v in VOTES.items()}
            await page.wait_for_function(
                """([want, reported]) => {
                    const v = (k) => Number(document.querySelector(
                        `[data-testid=total-${k}] .votes`)?.dataset.votes);
                    const r = Number(document.querySelector('#tps-progress')?.dataset.reported);
                    return v('c1') === want.c1 && v('c2') === want.c2 && v('c3') === want.c3
                        && r === reported;
                }""",
                arg=[expected, reported_before + 1],
                timeout=60_000,
            )
            seen_after_s = time.monotonic() - started
            after, reported_after = await page_totals(page)
            assert after == expected and reported_after == reported_before + 1
            assert await page.evaluate("window.__noReload") == "still here"
            progress = await page.locator("#tps-progress").inner_text()
            assert progress.startswith("TPS masuk 1 / 2.564"), progress
            # The drill-down table shows it under its kecamatan, numbers in id-ID format.
            row = page.locator("#children tbody tr[data-code='16.07.01']")
            assert "1/" in await row.inner_text()
            assert errors == []
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            print(f"dashboard showed the new form {seen_after_s:.2f}s after the intake's 202")
    finally:
        pipeline.stop()


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_camat_settles_a_dispute_from_the_review_page(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            wanted = {"op-16.07.01", "op2-16.07.01", "camat-16.07.01"}
            tokens = await mint_tokens(
                conn, TEST_TOKEN_SECRET, [op for op in operators if op.id in wanted]
            )
            tps = await conn.fetchval(
                "SELECT min(code) FROM tps WHERE election = $1 AND code LIKE '16.07.01.%'",
                ELECTION,
            )
        finally:
            await conn.close()
        async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=10) as intake:
            for operator, votes in (
                ("op-16.07.01", {"1": 20, "2": 60, "3": 20}),
                ("op2-16.07.01", {"1": 60, "2": 20, "3": 20}),
            ):
                form = {
                    "election": ELECTION,
                    "contest": "PPWP",
                    "tps": tps,
                    "suara_calon": votes,
                    "suara_sah": 100,
                    "suara_tidak_sah": 1,
                }
                headers = {
                    "Authorization": f"Bearer {tokens[operator]}",
                    "Idempotency-Key": f"{operator}-review-page",
                }
                sent = await intake.post("/v1/submissions", json=form, headers=headers)
                assert sent.status_code == 202, sent.text

        # A phone-sized screen: the review page must work there too.
        async with browser_page(375, 800) as (page, errors):
            await page.goto(
                f"{pipeline.api_url}/?token={tokens['camat-16.07.01']}#/tinjauan/{ELECTION}/PPWP"
            )
            await page.wait_for_selector("#live.on")
            accept = page.get_by_role("button", name="Terima versi ini")
            # The dispute arrives through the pipeline while the page is open.
            await accept.wait_for(timeout=60_000)
            await page.fill("#review-conflicts input", "sesuai foto C.Hasil")
            await accept.click()
            await page.wait_for_selector(".message.ok")
            await page.wait_for_selector(
                "#review-conflicts li.muted:has-text('Tidak ada TPS bersengketa')",
                timeout=60_000,
            )
            await page.goto(f"{pipeline.api_url}/#/tps/{ELECTION}/PPWP/{tps}")
            await page.wait_for_selector("#tps-result .badge.good:has-text('Terverifikasi')")
            history = await page.locator("#tps-history").inner_text()
            assert "versi diterima oleh Camat Banyuasin I (demo)" in history, history
            assert "sesuai foto C.Hasil" in history
            counted = await page.locator("[data-testid=tps-counted]").inner_text()
            assert counted.split()[:3] == ["60", "20", "20"], counted
            assert errors == []
            await page.screenshot(
                path=str(SCREENSHOT.with_name("review-phone.png")), full_page=True
            )
    finally:
        pipeline.stop()


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_dashboard_opens_on_the_election_with_results(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, REPO_ROOT / "data" / "rosters" / "pilkada-2024-banyuasin")
    finally:
        await conn.close()
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            chosen = [op for op in operators if op.id == "op-16.07.01" or op.role is Role.VIEWER]
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
            tps = await conn.fetchval(
                "SELECT min(code) FROM tps WHERE election = $1 AND code LIKE '16.07.01.%'",
                ELECTION,
            )
        finally:
            await conn.close()
        viewer = next(op.id for op in chosen if op.role is Role.VIEWER)
        auth = {"Authorization": f"Bearer {tokens[viewer]}"}
        async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=10) as api:
            listed = (await api.get("/v1/elections", headers=auth)).json()
            # Pilkada (the later date) is listed first: opening on the first one would be wrong.
            assert [e["id"] for e in listed["elections"]] == ["pilkada-2024", ELECTION]
            sent = await send_form(pipeline.intake_url, tokens["op-16.07.01"], tps)
            assert sent.status_code == 202, sent.text
            deadline = time.monotonic() + 60
            while (await api.get("/v1/elections", headers=auth)).json()["opening"] != ELECTION:
                assert time.monotonic() < deadline, "the api never named the active election"
                await asyncio.sleep(0.5)

        async with browser_page() as (page, errors):
            # A bare link, as bookmarked: no election in its #hash.
            await page.goto(f"{pipeline.api_url}/?token={tokens[viewer]}")
            await page.wait_for_selector("[data-testid=total-c2]")
            assert await page.locator("#pick-election").input_value() == ELECTION
            votes, reported = await page_totals(page)
            assert reported == 1 and votes == {f"c{no}": v for no, v in VOTES.items()}
            assert errors == []
    finally:
        pipeline.stop()
