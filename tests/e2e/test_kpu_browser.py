"""The "Selisih dengan KPU" view end to end: forms through the real pipeline, KPU's documents
imported by the CLI, the view in headless Chromium (screenshot), the TPS page side by side, and
the CSV/XLSX exports.

Needs Debian's chromium (/usr/bin/chromium). Saves artifacts/kpu-selisih.png and
artifacts/kpu-tps.png.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import orjson
import pytest

from deskpemilu.simulator.kpu import candidate_list, document, election_roster, kpu_ids, write_tree
from deskpemilu.simulator.plan import true_form
from deskpemilu.simulator.run import load_operators, mint_tokens
from shared.db import connect
from shared.events import Role
from shared.form import CHasil, Contest
from tests.e2e.browser import CHROMIUM, browser_page
from tests.e2e.pipeline import BANYUASIN_PEMILU, REPO_ROOT, start_pipeline
from tests.procs import TEST_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

ELECTION = "pemilu-2024"
ARTIFACTS = REPO_ROOT / "artifacts"


def forms_for(codes: list[str]) -> dict[str, CHasil]:
    roster = election_roster(BANYUASIN_PEMILU)
    contest = roster.contests[Contest.PPWP]
    return {
        code: true_form(ELECTION, contest, roster.tps[code], random.Random(n), reserve_pct=2.0)
        for n, code in enumerate(codes)
    }


def kpu_documents(forms: dict[str, CHasil], extra: str) -> dict[str, dict[str, Any]]:
    """KPU's side: two TPS as the desk has them, one line shifted, one not entered, a tenfold
    misread, a PSU with the same numbers, and one TPS the desk has not counted."""
    ids = kpu_ids(election_roster(BANYUASIN_PEMILU).contests[Contest.PPWP])
    ts = "2099-01-01 00:00:00"  # after anything the desk corrects in this test
    docs = {t: document(f, ids, pilkada=False, ts=ts) for t, f in forms.items()}
    a, b, c, d, e = sorted(forms)
    docs[b]["chart"][ids["c2"]] += 10
    docs[b]["administrasi"]["suara_sah"] += 10
    docs[b]["administrasi"]["suara_total"] += 10
    docs[c]["chart"], docs[c]["administrasi"], docs[c]["status_suara"] = None, None, False
    docs[d]["chart"][ids["c1"]] = docs[d]["chart"][ids["c1"]] * 10 + 7
    docs[e]["psu"] = "PSU 24 Februari 2024"
    docs[extra] = copy.deepcopy(docs[a])
    return docs


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package")
async def test_selisih_view_shows_the_differences_and_drills_down_to_tps(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    try:
        conn = await connect(scratch_database)
        try:
            operators, _ = await load_operators(conn)
            chosen = [op for op in operators if op.id == "op-16.07.01" or op.role is Role.VIEWER]
            tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, chosen)
            codes = [r["code"] for r in await conn.fetch(
                "SELECT code FROM tps WHERE election = $1 AND desa_code = '16.07.01.1016' "
                "ORDER BY code LIMIT 6", ELECTION)]  # fmt: skip
            kec_tps = await conn.fetchval(
                "SELECT count(*) FROM tps WHERE election = $1 AND code LIKE '16.07.01.%'", ELECTION
            )
        finally:
            await conn.close()
        viewer = next(op.id for op in chosen if op.role is Role.VIEWER)
        counted, extra = codes[:5], codes[5]
        forms = forms_for(counted)
        async with httpx.AsyncClient(base_url=pipeline.intake_url, timeout=10) as intake:
            for code, form in forms.items():
                sent = await intake.post(
                    "/v1/submissions", content=orjson.dumps(form.model_dump(mode="json")),
                    headers={"Authorization": f"Bearer {tokens['op-16.07.01']}",
                             "Content-Type": "application/json",
                             "Idempotency-Key": f"kpu-browser-{code}"},
                )  # fmt: skip
                assert sent.status_code == 202, sent.text
        conn = await connect(scratch_database)
        try:
            for _ in range(600):
                n = await conn.fetchval(
                    "SELECT count(*) FROM tps_results WHERE election = $1 AND tps = ANY($2)",
                    ELECTION, counted,
                )  # fmt: skip
                if n == len(counted):
                    break
                await asyncio.sleep(0.1)
            assert n == len(counted), pipeline.logs()
        finally:
            await conn.close()

        docs = kpu_documents(forms, extra)
        tree = write_tree(tmp_path / "kpu", Contest.PPWP, docs)
        ids = kpu_ids(election_roster(BANYUASIN_PEMILU).contests[Contest.PPWP])
        (tmp_path / "ppwp.json").write_bytes(orjson.dumps(candidate_list(ids)))
        imported = subprocess.run(
            [sys.executable, "-m", "deskpemilu.cli", "kpu", "import", str(tree), "--election",
             ELECTION, "--contest", "PPWP", "--candidates", str(tmp_path / "ppwp.json")],
            cwd=REPO_ROOT, env={**os.environ, "DATABASE_URL": scratch_database},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert "6 TPS documents: 6 new" in imported.stderr
        # The two counted TPS KPU disagrees with are findings on the review queue, once.
        assert "review queue: 2 TPS opened or updated, 0 resolved" in imported.stderr
        again = subprocess.run(imported.args, cwd=REPO_ROOT, capture_output=True, text=True,
                               env={**os.environ, "DATABASE_URL": scratch_database},
                               timeout=120, check=False)  # fmt: skip
        assert "6 TPS documents: 0 new, 0 changed, 6 unchanged" in again.stderr, again.stderr
        assert "review queue: 0 TPS opened or updated, 0 resolved" in again.stderr

        # KPU's D.Hasil for the desa: the desk's five counted TPS summed, c1 one higher.
        sums = {
            k: sum(f.votes_by_candidate()[k] for f in forms.values()) for k in ("c1", "c2", "c3")
        }
        recap_csv = tmp_path / "dhasil-160701.csv"
        recap_csv.write_text(
            f"kode_desa,c1,c2,c3\n1607011016,{sums['c1'] + 1},{sums['c2']},{sums['c3']}\n"
        )
        recapped = subprocess.run(
            [sys.executable, "-m", "deskpemilu.cli", "kpu", "recap", str(recap_csv),
             "--election", ELECTION, "--contest", "PPWP"],
            cwd=REPO_ROOT, env={**os.environ, "DATABASE_URL": scratch_database},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert recapped.returncode == 0, recapped.stderr

        a, b, c, d, e = counted
        tenfold = forms[d].votes_by_candidate()["c1"] * 9 + 7
        async with browser_page() as (page, errors):
            await page.goto(
                f"{pipeline.api_url}/?token={tokens[viewer]}#/kpu/{ELECTION}/PPWP/16.07"
            )
            row = page.locator("[data-testid='kpu-area-16.07.01']")
            await row.wait_for()
            assert await page.locator("#view-results").is_hidden()

            async def cell(key: str) -> str:
                return await row.locator(f"[data-k={key}]").inner_text()

            assert await cell("tps_total") == f"{kec_tps:,}".replace(",", ".")
            assert (await cell("compared"), await cell("matching"),
                    await cell("differing")) == ("4", "2", "2")  # fmt: skip
            assert (await cell("missing_at_kpu"), await cell("missing_at_desk"),
                    await cell("kpu_inconsistent")) == ("1", "1", "1")  # fmt: skip
            assert await row.locator("[data-line=c2]").inner_text() == "+10"
            c1 = await row.locator("[data-line=c1]").inner_text()
            assert c1 == "+" + f"{tenfold:,}".replace(",", ".")
            # Drill down: the kecamatan's desa, then the TPS with findings.
            await row.get_by_role("link").click()
            await page.locator("[data-testid='kpu-area-16.07.01.1016']").wait_for()
            await page.wait_for_function(
                "document.querySelector('#view-kpu').dataset.loaded === '16.07.01'"
            )
            listed = await page.locator("#kpu-tps tbody tr").evaluate_all(
                "rows => rows.map(r => [r.dataset.tps, r.querySelector('[data-status]')"
                "?.dataset.status])"
            )
            assert listed == [[b, "differing"], [c, "missing_at_kpu"], [d, "differing"],
                              [extra, "missing_at_desk"]]  # fmt: skip
            recap = page.locator("#kpu-recap li[data-desa='16.07.01.1016']")
            assert "TPS desk 5/28" in await recap.inner_text()
            assert await recap.locator("[data-status]").get_attribute("data-status") == (
                "differing"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "kpu-selisih.png"), full_page=True)

            # The TPS page (where a camat reviews) shows both numbers side by side.
            await page.locator(f"#kpu-tps tr[data-tps='{b}'] a").click()
            table = page.locator("[data-testid=kpu-side-by-side]")
            await table.wait_for()
            desk_c2 = forms[b].votes_by_candidate()["c2"]
            c2_row = table.locator("[data-row=c2]")
            assert await c2_row.locator("[data-side=desk]").inner_text() == str(desk_c2)
            assert await c2_row.locator("[data-side=kpu]").inner_text() == str(desk_c2 + 10)
            await page.screenshot(path=str(ARTIFACTS / "kpu-tps.png"), full_page=True)
            assert errors == []

        headers = {"Authorization": f"Bearer {tokens[viewer]}"}
        async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=30) as api:
            params = {"area": "16.07.01.1016", "level": "tps"}
            got = await api.get(f"/v1/exports/kpu/{ELECTION}/PPWP.csv", params=params,
                                headers=headers)  # fmt: skip
            assert got.status_code == 200, got.text
            lines = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
            header = lines[2]
            by_tps = {r[0]: dict(zip(header, r, strict=True)) for r in lines[3:]}
            assert by_tps[b]["Status"] == "berbeda"
            assert "VOTES c2" in by_tps[b]["Temuan"] and "SUARA_SAH" in by_tps[b]["Temuan"]
            assert by_tps[e]["PSU"] == "PSU 24 Februari 2024"
            assert by_tps[a]["Status"] == "sama"
            xlsx = await api.get(f"/v1/exports/kpu/{ELECTION}/PPWP.xlsx",
                                 params={"level": "kecamatan"}, headers=headers)  # fmt: skip
            assert xlsx.status_code == 200
            sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
            assert sheet is not None
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            kec = next(r for r in rows if r[0] == "16.07.01")
            assert kec[3:8] == [4, 2, 2, 1, 1]
            queue = await api.get(f"/v1/anomalies/{ELECTION}", headers=headers)
            found = {a["tps"] for a in queue.json()["anomalies"] if a["code"] == "KPU_DIFFERENCE"}
            assert found == {b, d}
            unauthenticated = await api.get(f"/v1/kpu/{ELECTION}/PPWP/summary")
            assert unauthenticated.status_code == 401
    finally:
        pipeline.stop()
