"""A WhatsApp photo with a caption, through the stand-in media server, on the TPS page.

The four services run as processes; the WhatsApp Cloud API is a local stand-in serving a real
JPEG. The photo must show on the TPS page in headless Chromium beside the form's numbers, and
a second TPS sent the same sheet raises PHOTO_REUSED. Saves artifacts/tps-photo.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from deskpemilu.simulator.run import load_operators, mint_tokens
from shared.db import connect
from tests.e2e.browser import CHROMIUM, browser_page
from tests.e2e.pipeline import REPO_ROOT, start_pipeline, wait_until
from tests.photo_fixtures import form_photo
from tests.procs import TEST_TOKEN_SECRET
from tests.webhooks import (
    ACCESS_TOKEN,
    graph_stand_in,
    image_payload,
    post_whatsapp,
    whatsapp_payload,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

SCREENSHOT = REPO_ROOT / "artifacts" / "tps-photo.png"
ELECTION = "pemilu-2024"
TPS = "16.07.01.1016.001"
PHONE = "628110000101"  # op-16.07.01 in the Banyuasin roster


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_a_whatsapp_photo_with_caption_ends_on_the_tps_page(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    with graph_stand_in() as graph:
        sheet = form_photo(41)
        graph.media["wa-media-41"] = sheet
        pipeline = await start_pipeline(
            kafka_bootstrap,
            scratch_database,
            tmp_path,
            WHATSAPP_API_BASE=graph.base,
            WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
            INTAKE_REPLY_TO_DEMO_OPERATORS="true",
            BLOB_STORE="fs",
            BLOB_DIR=str(tmp_path / "blobs"),
        )
        try:
            conn = await connect(scratch_database)
            try:
                operators, _ = await load_operators(conn)
                chosen = [op for op in operators if op.id == "op-16.07.01"]
                tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
            finally:
                await conn.close()
            secret = pipeline.secrets.whatsapp_app_secret
            async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=30) as client:
                text = await post_whatsapp(
                    client,
                    whatsapp_payload(PHONE, "PPWP#1607011016001#120#250#80#450#5", "wamid.e2e-t"),
                    secret,
                )
                assert text.status_code == 200 and text.json()["published"] == 1, text.text
                photo = await post_whatsapp(
                    client,
                    image_payload(PHONE, "wa-media-41", "PPWP 1607011016#001", "wamid.e2e-i"),
                    secret,
                )
            assert photo.status_code == 200 and photo.json()["published"] == 1, photo.text

            # The form's read-back, its verdict and the photo's read-back, in any order.
            async def read_back() -> bool:
                return "foto C.Hasil TPS 001 (PPWP) diterima" in graph.texts_to(PHONE)

            assert await wait_until(read_back, timeout_s=30, interval_s=0.2), graph.texts_to(PHONE)

            async def linked() -> bool:
                conn = await connect(scratch_database)
                try:
                    return bool(await conn.fetchval("SELECT count(*) FROM photo_links"))
                finally:
                    await conn.close()

            assert await wait_until(linked, timeout_s=60), pipeline.logs()

            async with browser_page(1280, 1400) as (page, errors):
                await page.goto(f"{pipeline.api_url}/?token={tokens['op-16.07.01']}")
                await page.wait_for_selector("[data-testid=total-c2]")
                await page.goto(f"{pipeline.api_url}/#/tps/{ELECTION}/PPWP/{TPS}")
                thumb = page.locator("#tps-photos [data-testid=photo-thumb]")
                await thumb.first.wait_for(timeout=30_000)
                await page.wait_for_function(
                    """() => { const i = document.querySelector(
                          '#tps-photos [data-testid=photo-thumb]');
                          return i && i.complete && i.naturalWidth > 0; }""",
                    timeout=30_000,
                )
                assert await thumb.count() == 1
                assert await page.locator("#tps-submissions tbody tr").count() >= 1
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT), full_page=True)
                await thumb.first.click()
                full = page.locator("[data-testid=photo-full]")
                await full.wait_for(timeout=10_000)
                assert errors == []
        finally:
            pipeline.stop()
