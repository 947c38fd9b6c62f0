"""An incident by WhatsApp reaches the open dashboard live, raises the alert banner and a
WhatsApp message to the desk's coordinator (a local stand-in for the Cloud API).

The pipeline's services and the screener run as real processes on a scratch database and
topic prefix; Debian's /usr/bin/chromium, driven by Playwright, shows the dashboard. With
DESK_SHOTS_DIR set, the incident feed and the alert banner are saved there as screenshots
(incident-feed.png, alert-banner.png); otherwise under artifacts/.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from deskpemilu.simulator.run import load_operators, mint_tokens
from shared.db import connect
from tests.e2e.browser import CHROMIUM, browser_page
from tests.e2e.pipeline import REPO_ROOT, start_pipeline
from tests.procs import TEST_TOKEN_SECRET, ServiceProcess
from tests.webhooks import ACCESS_TOKEN, PHONE_NUMBER_ID, FakeGraph, post_whatsapp, whatsapp_payload

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

COORDINATOR = "628119990001"
OPERATOR_PHONE = "628110000101"  # op-16.07.01 in the Banyuasin roster
TEXT = "Massa merusak kotak suara, penghitungan dihentikan"


def shots_dir() -> Path:
    """Where the screenshots go: DESK_SHOTS_DIR, else artifacts/."""
    return Path(os.environ.get("DESK_SHOTS_DIR") or REPO_ROOT / "artifacts")


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_whatsapp_incident_live_on_dashboard_banner_and_coordinator_message(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path, fake_graph: FakeGraph
) -> None:
    pipeline = await start_pipeline(
        kafka_bootstrap,
        scratch_database,
        tmp_path,
        WHATSAPP_API_BASE=fake_graph.base,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        SCREENER_ALERT_COORDINATORS=COORDINATOR,
        SCREENER_ALERT_INTERVAL_S="5",
    )
    try:
        pipeline.services["screener"] = ServiceProcess(
            "screener", pipeline.env, tmp_path / "screener.log"
        ).start(timeout_s=60)
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            camat = next(op for op in operators if op.id == "camat-16.07.01")
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, [camat])
            tps = await conn.fetchval(
                "SELECT min(code) FROM tps WHERE election = 'pemilu-2024' "
                "AND code LIKE '16.07.01.%'"
            )
        finally:
            await conn.close()

        async with browser_page() as (page, errors):
            await page.goto(f"{pipeline.api_url}/?token={tokens[camat.id]}")
            await page.wait_for_selector("#incident-feed li.muted")  # the feed has loaded
            await page.wait_for_selector("#live.on")
            await page.evaluate("window.__noReload = 'still here'")

            payload = whatsapp_payload(
                OPERATOR_PHONE, f"KEJADIAN#{tps}#kericuhan#{TEXT}", "wamid.E2E1"
            )
            secret = pipeline.env["WHATSAPP_APP_SECRET"]
            async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=10) as client:
                sent = await post_whatsapp(client, payload, secret)
            assert sent.status_code == 200, sent.text
            assert sent.json() == {"received": 1, "published": 1}
            started = time.monotonic()
            item = page.locator(f"[data-testid=incident]:has-text('{TEXT}')")
            await item.wait_for(timeout=5_000)  # live, without a reload, within 5 s
            seen_after_s = time.monotonic() - started
            assert await item.get_attribute("data-severity") == "critical"
            row = page.locator("#incident-counts tr[data-kecamatan='16.07.01']")
            assert "1" in await row.locator("[data-testid=incident-unresolved]").inner_text()
            shots = shots_dir()
            shots.mkdir(parents=True, exist_ok=True)
            await page.locator("#incidents-card").screenshot(path=str(shots / "incident-feed.png"))

            banner = page.locator("[data-testid=alert][data-rule=CRITICAL_INCIDENT]")
            await banner.wait_for(timeout=20_000)
            assert TEXT[:40] in await banner.inner_text()
            await page.evaluate("window.scrollTo(0, 0)")
            await page.screenshot(path=str(shots / "alert-banner.png"))
            (message,) = await fake_graph.wait_for_texts(COORDINATOR, 1, timeout_s=30)
            assert "PERINGATAN KRITIS" in message and TEXT in message

            # The camat acknowledges the alert and the incident; both show without reload.
            await banner.get_by_role("button", name="Tandai diketahui").click()
            await page.wait_for_selector("#alert-banner", state="hidden", timeout=10_000)
            await item.locator("[data-testid=incident-ack]").click()
            await page.wait_for_selector(
                f"[data-testid=incident]:has-text('{TEXT}') "
                "[data-testid=incident-status]:has-text('diterima')",
                timeout=15_000,
            )
            assert await page.evaluate("window.__noReload") == "still here"
            assert errors == []
            print(f"incident on the dashboard {seen_after_s:.2f}s after the webhook's 200")
    finally:
        pipeline.stop()
