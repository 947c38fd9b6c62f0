"""The operator app in headless Chromium at phone size, with the network cut and restored.

Three forms are entered offline, the page is reloaded and the browser restarted (still
offline), the network comes back:
each form reaches the received topic exactly once (the first answer of each is lost on the way
back, so the app retries with the same Idempotency-Key), and the verdicts the validator gives
show in the work list. The app's checks, evaluated by its own JavaScript, say what the
validator says on the same forms. A 422 is shown and not retried; a revoked token shows a clear
message and keeps the queue. A HEIC photo of the C.Hasil attached to the first form offline waits
in IndexedDB with it and reaches `POST /v1/photos` once online, linked to that form's
submission, stored once although its first answer is lost too. Needs Debian's chromium
(/usr/bin/chromium). Saves artifacts/app-worklist.png and artifacts/app-form.png (and
app-form-dpr.png, app-form-photo.png, app-token-revoked.png).
"""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    BrowserContext,
    FilePayload,
    Page,
    Route,
    ViewportSize,
    async_playwright,
)

from deskpemilu.simulator.run import load_operators, mint_tokens
from services.validator.rules import check_form
from shared.db import connect
from shared.events import PhotoReceived
from shared.form import CHasil
from shared.roster_db import fetch_election_roster
from shared.topics import Topics
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pipeline import REPO_ROOT, start_pipeline, wait_until
from tests.integration.test_intake_app import read_topic
from tests.photo_fixtures import form_photo
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(420)]

ARTIFACTS = REPO_ROOT / "artifacts"
ELECTION = "pemilu-2024"
OPERATOR = "op-16.07.01"
PHONE: ViewportSize = {"width": 390, "height": 844}


async def chip_state(page: Page, contest: str, tps: str) -> str | None:
    return await page.get_attribute(f"[data-testid='chip-{contest}-{tps}']", "data-state")


async def fill(page: Page, values: dict[str, int]) -> None:
    for field, value in values.items():
        await page.fill(f"#chasil input[data-field='{field}']", str(value))


async def shown_checks(page: Page) -> list[tuple[str, str]]:
    items = page.locator("#checks li")
    return [
        (await items.nth(i).get_attribute("data-code") or "", await items.nth(i).inner_text())
        for i in range(await items.count())
    ]


def random_forms(
    setup: dict[str, Any], rng: random.Random, count: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Forms as the app builds them (every roster line), with numbers often inconsistent."""
    election = next(e for e in setup["elections"] if e["id"] == ELECTION)
    out = []
    for _ in range(count):
        contest = rng.choice(election["contests"])
        tps = rng.choice(election["tps"])

        def n() -> int:
            return rng.choice([0, 1, 2, 5, 10, 40, 100, 150, 240, 999, 1000])

        form: dict[str, Any] = {"election": ELECTION, "contest": contest["contest"]}
        form["tps"] = tps["code"]
        if contest["party_list"]:
            form["suara_partai"] = []
            for party in contest["parties"]:
                lines = {str(c["nomor"]): n() for c in party["candidates"] if rng.random() < 0.2}
                a1 = n()
                total = a1 + sum(lines.values()) if rng.random() < 0.7 else n()
                form["suara_partai"].append(
                    {
                        "nomor_partai": party["nomor"],
                        "suara_partai": a1,
                        "suara_calon": lines,
                        "jumlah": total,
                    }
                )
            valid = sum(p["jumlah"] for p in form["suara_partai"])
        else:
            form["suara_calon"] = {str(c["nomor"]): n() for c in contest["candidates"]}
            valid = sum(form["suara_calon"].values())
        form["suara_sah"] = valid if rng.random() < 0.7 else n()
        form["suara_tidak_sah"] = rng.choice([0, 3, 7])
        cast = form["suara_sah"] + form["suara_tidak_sah"]
        ctx = tps["ctx"]
        if rng.random() < 0.4:
            form["jumlah_suara"] = cast if rng.random() < 0.7 else n()
        if rng.random() < 0.4:
            b1 = {"l": cast // 2, "p": cast - cast // 2, "jumlah": cast}
            zero = {"l": 0, "p": 0, "jumlah": 0}
            form["pemilih"] = {
                "dpt": {"l": ctx["dpt_l"], "p": ctx["dpt_p"], "jumlah": ctx["dpt"]}
                if rng.random() < 0.8
                else {"l": n(), "p": n(), "jumlah": n()},
                "pengguna_dpt": b1,
                "pengguna_dptb": zero if rng.random() < 0.8 else {"l": 1, "p": 1, "jumlah": 3},
                "pengguna_dpk": zero,
                "pengguna_total": b1 if rng.random() < 0.8 else {"l": n(), "p": n(), "jumlah": n()},
            }
        if rng.random() < 0.4:
            diterima = ctx["dpt"] + ctx["reserve"] if rng.random() < 0.8 else n()
            rusak = rng.choice([0, 2])
            form["surat_suara"] = {
                "diterima": diterima,
                "digunakan": cast if rng.random() < 0.8 else n(),
                "rusak": rusak,
                "sisa": max(0, diterima - cast - rusak),
            }
        if rng.random() < 0.3:
            form["disabilitas"] = {"l": 1, "p": 2, "jumlah": 3 if rng.random() < 0.8 else 4}
        out.append((form, contest))
    return out


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_three_forms_entered_offline_are_sent_once_and_their_verdicts_shown(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(
        kafka_bootstrap,
        scratch_database,
        tmp_path,
        INTAKE_DIRECTORY_REFRESH_S="0.5",
        BLOB_STORE="fs",
        BLOB_DIR=str(tmp_path / "blobs"),
    )
    received_topic = Topics(pipeline.env["TOPIC_PREFIX"]).received
    photos_topic = Topics(pipeline.env["TOPIC_PREFIX"]).photos
    heic = form_photo(21, fmt="HEIF")  # as an iPhone takes it
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            chosen = [op for op in operators if op.id == OPERATOR]
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
            codes = [
                r["code"]
                for r in await conn.fetch(
                    "SELECT code FROM tps WHERE election = $1 AND code LIKE '16.07.01.%' "
                    "AND dpt >= 200 ORDER BY code LIMIT 4",
                    ELECTION,
                )
            ]
            roster = await fetch_election_roster(conn, ELECTION)
        finally:
            await conn.close()
        assert roster is not None
        good, wrong, party, late = codes

        # The first answer to each form is lost on the way back (the intake got and stored
        # it): the app must retry with the same key, and Kafka hold the form once.
        posted: list[str] = []
        losing = {"on": True}

        async def lose_first_answer(route: Route) -> None:
            if route.request.method != "POST":
                await route.continue_()
                return
            key = await route.request.header_value("idempotency-key") or ""
            posted.append(key)
            response = await route.fetch()
            if losing["on"] and posted.count(key) == 1:
                await route.abort("connectionreset")
            else:
                await route.fulfill(response=response)

        # The first photo upload is stored and its answer lost as well.
        photo_posts: list[int] = []

        async def lose_first_photo_answer(route: Route) -> None:
            photo_posts.append(len(route.request.post_data_buffer or b""))
            response = await route.fetch()
            if len(photo_posts) == 1:
                await route.abort("connectionreset")
            else:
                await route.fulfill(response=response)

        errors: list[str] = []
        profile = tmp_path / "chromium-profile"  # kept across a browser restart, as on a phone

        async with async_playwright() as pw:

            async def launch() -> tuple[BrowserContext, Page]:
                context = await pw.chromium.launch_persistent_context(
                    str(profile),
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    viewport=PHONE,
                    device_scale_factor=2,
                    is_mobile=True,
                    has_touch=True,
                )
                await context.route("**/v1/submissions", lose_first_answer)
                await context.route("**/v1/photos", lose_first_photo_answer)
                page = context.pages[0] if context.pages else await context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                return context, page

            context, page = await launch()
            try:
                await page.goto(f"{pipeline.intake_url}/app/#token={tokens[OPERATOR]}")
                await page.wait_for_selector(f"[data-testid='tps-{good}']")
                assert "token" not in page.url  # taken into storage, out of the address bar
                await page.wait_for_function("navigator.serviceWorker.controller !== null")
                assert await page.inner_text("#progress") != ""
                assert "Presiden: TPS masuk 0 / " in await page.inner_text("#progress")
                assert await chip_state(page, "PPWP", good) == "none"

                # The app's checks (its JavaScript over the data the intake serves) against
                # the validator's own rules, on forms as the app builds them.
                setup = await page.evaluate(
                    "(t) => fetch('/app/v1/setup', {headers: {Authorization: 'Bearer ' + t}})"
                    ".then(r => r.json())",
                    tokens[OPERATOR],
                )
                forms = random_forms(setup, random.Random(17), 150)
                ctx = {t["code"]: t["ctx"] for e in setup["elections"] for t in e["tps"]}
                in_js = await page.evaluate(
                    "([rules, cases]) => { const byCode = Object.fromEntries("
                    "rules.map(r => [r.code, r])); return cases.map(([form, checks, ctx]) => "
                    "DeskChecks.evaluate(checks, byCode, form, ctx)"
                    ".map(v => [v.code, v.field, v.pesan])); }",
                    [
                        setup["rules"],
                        [[form, contest["checks"], ctx[form["tps"]]] for form, contest in forms],
                    ],
                )
                flagged = 0
                for (form, _), js in zip(forms, in_js, strict=True):
                    server = check_form(CHasil.model_validate(form), roster)
                    expected = sorted([v.code, v.field, v.pesan] for v in server)
                    assert sorted(js) == expected, form
                    flagged += bool(server)
                assert 30 < flagged < 150  # both clean and broken forms were compared

                await context.set_offline(True)
                await page.wait_for_selector("#net[data-online='false']")

                # 1. PPWP, consistent.
                await page.click(f"[data-testid='chip-PPWP-{good}']")
                await fill(page, {"suara_calon.1": 50, "suara_calon.2": 70, "suara_calon.3": 30})
                await fill(page, {"suara_sah": 150, "suara_tidak_sah": 4})
                await page.wait_for_selector("[data-testid=checks-ok]")
                # ... with a photo of the sheet from the phone's gallery.
                await page.set_input_files(
                    "#photo-file",
                    files=FilePayload(name="IMG_0001.HEIC", mimeType="image/heic", buffer=heic),
                )
                assert "IMG_0001.HEIC" in await page.inner_text("[data-testid=photo-chosen]")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.locator("#photo").screenshot(path=str(ARTIFACTS / "app-form-photo.png"))
                await page.click("#send")
                # 2. PPWP, V.A does not add up: the app says so while the operator types.
                await page.click(f"[data-testid='chip-PPWP-{wrong}']")
                await fill(page, {"suara_calon.1": 40, "suara_calon.2": 60, "suara_calon.3": 20})
                await fill(page, {"suara_sah": 125, "suara_tidak_sah": 3})
                typed_checks = await shown_checks(page)
                assert [code for code, _ in typed_checks] == ["SAH_SUM"], typed_checks
                assert await page.inner_text("#send") == "Kirim meski ada kesalahan"
                await page.click("#send")
                # 3. DPR, party blocks folded: open two and fill them.
                await page.click(f"[data-testid='chip-DPR-{party}']")
                await page.click("details.party[data-party='1'] > summary")
                await fill(page, {"suara_partai.1.suara_partai": 10, "suara_partai.1.jumlah": 10})
                await page.click("details.party[data-party='2'] > summary")
                await fill(
                    page,
                    {
                        "suara_partai.2.suara_partai": 5,
                        "suara_partai.2.suara_calon.1": 3,
                        "suara_partai.2.jumlah": 8,
                        "suara_sah": 18,
                        "suara_tidak_sah": 2,
                    },
                )
                await page.wait_for_selector("[data-testid=checks-ok]")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "app-form-dpr.png"), full_page=False)
                await page.click("#send")
                for contest, tps in (("PPWP", good), ("PPWP", wrong), ("DPR", party)):
                    assert await chip_state(page, contest, tps) == "queued"

                # Reloading the page, then closing the browser and starting it again, still
                # offline: the app comes from the service worker, the queue from IndexedDB.
                await page.reload()
                await page.wait_for_selector(f"[data-testid='tps-{good}']")
                for contest, tps in (("PPWP", good), ("PPWP", wrong), ("DPR", party)):
                    assert await chip_state(page, contest, tps) == "queued"
                await context.close()
                context, page = await launch()
                await context.set_offline(True)
                await page.goto(f"{pipeline.intake_url}/app/")
                await page.wait_for_selector(f"[data-testid='tps-{good}']")
                for contest, tps in (("PPWP", good), ("PPWP", wrong), ("DPR", party)):
                    assert await chip_state(page, contest, tps) == "queued"
                assert await page.inner_text("#outbox") == "3 antre · 1 foto"
                photo_line = f"[data-testid='photo-PPWP-{good}']"
                assert await page.get_attribute(photo_line, "data-state") == "queued"
                kept_photos = await page.evaluate(
                    "DeskStore.all('photos').then(ps => ps.map(p => p.bytes.byteLength))"
                )
                assert kept_photos == [len(heic)]
                assert posted == [] and photo_posts == []
                assert await read_topic(kafka_bootstrap, received_topic) == []

                await context.set_offline(False)
                for contest, tps, verdict in (
                    ("PPWP", good, "accepted"),
                    ("PPWP", wrong, "rejected"),
                    ("DPR", party, "accepted"),
                ):
                    await page.wait_for_selector(
                        f"[data-testid='chip-{contest}-{tps}'][data-state='{verdict}']",
                        timeout=90_000,
                    )
                await page.wait_for_selector(f"{photo_line}[data-state='sent']", timeout=60_000)
                losing["on"] = False
                records = await read_topic(kafka_bootstrap, received_topic)
                keys = sorted(set(posted))
                assert len(records) == 3 and len(keys) == 3 and len(posted) >= 6
                queue = await page.evaluate("DeskStore.all('queue')")
                assert sorted(item["key"] for item in queue) == keys
                ids = {item["submission_id"] for item in queue}
                assert {r.key.decode() for r in records} == {good, wrong, party}
                assert {str(_submission_id(r.value)) for r in records} == ids

                # The photo: sent twice (the first answer lost), one photo, linked to the form.
                good_id = next(i["submission_id"] for i in queue if i["tps"] == good)
                photo_events = [
                    PhotoReceived.model_validate_json(r.value)
                    for r in await read_topic(kafka_bootstrap, photos_topic)
                ]
                assert len(photo_posts) == 2 and photo_events
                assert {(e.sha256, e.tps, str(e.submission_id), e.mime) for e in photo_events} == {
                    (hashlib.sha256(heic).hexdigest(), good, good_id, "image/heic")
                }
                assert len({e.photo_id for e in photo_events}) == 1
                assert await wait_until(lambda: _photo_links(scratch_database, good), timeout_s=30)
                assert await page.evaluate("DeskStore.all('photos')") == []  # space freed

                # The rejection reads in Indonesian on the work list, as the app said it.
                reasons = await page.inner_text(f"[data-testid='tps-{wrong}'] .reasons")
                assert typed_checks[0][1] in reasons
                # Accepted forms count in the kecamatan's progress; the rejected one does not.
                assert await wait_until(
                    lambda: _progress_shows(
                        page, "Presiden: TPS masuk 1 / ", "DPR RI: TPS masuk 1 / "
                    ),
                    timeout_s=45,
                )
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "app-worklist.png"), full_page=False)

                # The rejected form opens for correction with its numbers kept.
                await page.click(f"[data-testid='chip-PPWP-{wrong}']")
                assert await page.input_value("[data-field='suara_sah']") == "125"
                assert await page.input_value("[data-field='suara_calon.2']") == "60"
                assert typed_checks[0][1] in await page.inner_text("[data-testid=verdict]")
                await page.screenshot(path=str(ARTIFACTS / "app-form.png"), full_page=False)
                await fill(page, {"suara_sah": 120})
                await page.wait_for_selector("[data-testid=checks-ok]")
                await page.click("#send")
                await page.wait_for_selector(
                    f"[data-testid='chip-PPWP-{wrong}'][data-state='accepted']", timeout=90_000
                )
                assert len(await read_topic(kafka_bootstrap, received_topic)) == 4

                # A form the intake refuses for its shape (here: an old app's bad number) is
                # shown with the field's message and not retried.
                await page.evaluate(
                    """(tps) => DeskStore.put('queue', {key: 'bad-shape-1', election: 'pemilu-2024',
                        contest: 'PPWP', tps, state: 'queued', created_at: Date.now(),
                        attempts: 0, next_at: 0, form: {election: 'pemilu-2024', contest: 'PPWP',
                        tps, suara_calon: {'1': 1, '2': 2, '3': 3}, suara_sah: -6,
                        suara_tidak_sah: 0}})""",
                    late,
                )
                await page.reload()
                chip = f"[data-testid='chip-PPWP-{late}']"
                await page.wait_for_selector(f"{chip}[data-state='invalid']", timeout=30_000)
                assert "suara_sah" in await page.inner_text(f"[data-testid='tps-{late}'] .reasons")
                await page.wait_for_timeout(3000)
                bad = await page.evaluate("DeskStore.get('queue', 'bad-shape-1')")
                assert (bad["state"], bad["attempts"]) == ("invalid", 1)

                # A revoked token: a clear message, and the form typed meanwhile stays queued.
                conn = await connect(scratch_database)
                try:
                    await conn.execute("UPDATE operator_tokens SET revoked_at = now()")
                finally:
                    await conn.close()
                assert await wait_until(
                    lambda: _refused(pipeline.intake_url, tokens[OPERATOR]), timeout_s=30
                )  # the intake's directory refresh (every 0.5 s here) has seen the revocation
                await page.click(f"[data-testid='chip-DPD-{late}']")
                first = page.locator("#chasil input[data-field^='suara_calon.']").first
                await first.fill("7")
                await fill(page, {"suara_sah": 7, "suara_tidak_sah": 0})
                await page.click("#send")
                banner = page.locator("#banner[data-code='TOKEN_REVOKED']")
                await banner.wait_for(timeout=30_000)
                assert "Token sudah dicabut" in await banner.inner_text()
                assert "1 formulir tetap tersimpan" in await banner.inner_text()
                await page.screenshot(path=str(ARTIFACTS / "app-token-revoked.png"))
                await page.reload()
                await banner.wait_for(timeout=30_000)
                kept = await page.evaluate("DeskStore.all('queue')")
                assert [i["state"] for i in kept if i["contest"] == "DPD"] == ["queued"]
                assert len(await read_topic(kafka_bootstrap, received_topic)) == 4
                assert errors == []
            finally:
                await context.close()
    finally:
        pipeline.stop()


def _submission_id(value: bytes) -> str:
    import orjson

    return str(orjson.loads(value)["submission_id"])


async def _refused(intake_url: str, token: str) -> bool:
    async with httpx.AsyncClient(base_url=intake_url, timeout=5) as client:
        answer = await client.get("/app/v1/setup", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code == 401


async def _photo_links(database_url: str, tps: str) -> bool:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch("SELECT tps FROM photo_links")
    finally:
        await conn.close()
    return [r["tps"] for r in rows] == [tps]


async def _progress_shows(page: Page, *texts: str) -> bool:
    shown = await page.inner_text("#progress")
    return all(text in shown for text in texts)
