"""The "Selisih dengan KPU" routes on the real PostgreSQL: desk rows as the aggregator writes them,
KPU's documents through the repository; tolerance, a desk correction after KPU's snapshot, KPU's
history of a TPS, and a reader's token required."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from openpyxl import load_workbook

from deskpemilu.roster_load import load_roster
from shared.db import connect
from shared.kpu import repository as repo
from shared.kpu.recap import RecapRow
from shared.kpu.sirekap import KpuState, KpuTps
from tests.integration.test_api import ROSTER, Api, serve_api

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
A, B, C = "16.07.01.1016.001", "16.07.01.1016.002", "16.07.02.2001.001"
KPU_TS = datetime(2024, 2, 16, 16, 0, tzinfo=UTC)


async def desk_result(
    conn: asyncpg.Connection, tps: str, votes: dict[str, int], tidak_sah: int,
    corrected_at: datetime | None = None,
) -> None:  # fmt: skip
    """A counted result, and a revision at corrected_at when given (as the aggregator writes)."""
    sub = uuid.uuid4()
    await conn.execute(
        """INSERT INTO tps_results (election, contest, tps, submission_id, votes, suara_sah,
                                    suara_tidak_sah, pengguna, version, operator_id, channel,
                                    received_at)
           VALUES ($1, 'PPWP', $2, $3, $4, $5, $6, $7, $8, 'op-16.07.01', 'api', $9)""",
        ELECTION, tps, sub, votes, sum(votes.values()), tidak_sah,
        sum(votes.values()) + tidak_sah, 2 if corrected_at else 1, datetime.now(UTC),
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO tps_result_versions (election, contest, tps, version, submission_id,
                                            decision, operator_id, channel, votes, at)
           VALUES ($1, 'PPWP', $2, 1, $3, 'new', 'op-16.07.01', 'api', $4, $5)""",
        ELECTION, tps, sub, votes, datetime(2024, 2, 14, 15, 0, tzinfo=UTC),
    )  # fmt: skip
    if corrected_at:
        await conn.execute(
            """INSERT INTO tps_result_versions (election, contest, tps, version, submission_id,
                                                decision, operator_id, channel, votes, at)
               VALUES ($1, 'PPWP', $2, 2, $3, 'revision', 'op-16.07.01', 'api', $4, $5)""",
            ELECTION, tps, sub, votes, corrected_at,
        )  # fmt: skip


def kpu(tps: str, votes: dict[str, int], tidak_sah: int) -> KpuTps:
    sah = sum(votes.values())
    return KpuTps(
        tps=tps, state=KpuState.PUBLISHED, votes=votes, suara_sah=sah, suara_tidak_sah=tidak_sah,
        suara_total=sah + tidak_sah, pengguna=sah + tidak_sah, dpt=250, status_suara=True,
        status_adm=True, kpu_ts=KPU_TS,
    )  # fmt: skip


@pytest.fixture
async def api(scratch_database: str) -> AsyncIterator[Api]:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTER)
        await desk_result(conn, A, {"c1": 40, "c2": 100, "c3": 20}, 2)
        # Corrected on the 17th, after KPU's snapshot of the 16th.
        await desk_result(conn, B, {"c1": 30, "c2": 90, "c3": 25}, 1,
                          corrected_at=datetime(2024, 2, 17, 3, 0, tzinfo=UTC))  # fmt: skip
        await desk_result(conn, C, {"c1": 10, "c2": 50, "c3": 10}, 0)
        first = [kpu(A, {"c1": 40, "c2": 100, "c3": 20}, 2),
                 kpu(B, {"c1": 30, "c2": 90, "c3": 25}, 1),
                 kpu(C, {"c1": 10, "c2": 50, "c3": 10}, 0)]  # fmt: skip
        await repo.store_tps(conn, election=ELECTION, contest="PPWP",
                             items=[(d, "first") for d in first])  # fmt: skip
        # KPU changes A by two votes (and its sah), later.
        changed = kpu(A, {"c1": 42, "c2": 100, "c3": 20}, 2)
        await repo.store_tps(conn, election=ELECTION, contest="PPWP", items=[(changed, "second")])
        # D.Hasil for Mariana: the desk's two TPS summed, but c2 five higher.
        row = RecapRow("16.07.01.1016", {"c1": 70, "c2": 195, "c3": 45}, 305, 3, None, None)
        await repo.store_recap(conn, election=ELECTION, contest="PPWP", rows=[row], origin="x")
    finally:
        await conn.close()
    async with serve_api(scratch_database) as running:
        yield running


async def test_summary_tolerance_and_drill_down(api: Api) -> None:
    async with api.client() as client:
        strict = (await client.get(f"/v1/kpu/{ELECTION}/PPWP/summary")).json()
        assert strict["area"] == "16.07" and strict["child_level"] == "kecamatan"
        assert [b["name"] for b in strict["breadcrumb"]] == ["Sumatera Selatan", "Banyuasin"]
        total = strict["total"]
        assert (total["tps_total"], total["compared"], total["matching"], total["differing"]) == (
            2564, 3, 1, 2,
        )  # fmt: skip
        assert total["net"] == {"c1": 2, "c2": 0, "c3": 0}
        kec = {c["code"]: c for c in strict["children"]}
        assert (kec["16.07.01"]["differing"], kec["16.07.02"]["matching"]) == (2, 1)
        assert len(kec) == 21

        loose = await client.get(f"/v1/kpu/{ELECTION}/PPWP/summary",
                                 params={"tolerance_votes": 2, "tolerance_sah": 2,
                                         "tolerance_pengguna": 2})  # fmt: skip
        # A's two votes are within tolerance; B's correction after KPU's snapshot still counts.
        assert (loose.json()["total"]["matching"], loose.json()["total"]["differing"]) == (2, 1)

        listing = (await client.get(f"/v1/kpu/{ELECTION}/PPWP/tps",
                                    params={"area": "16.07.01"})).json()  # fmt: skip
        found = {t["tps"]: {d["kind"] for d in t["differences"]} for t in listing["tps"]}
        assert found == {A: {"VOTES", "SUARA_SAH", "PENGGUNA"}, B: {"DESK_CORRECTED_AFTER_KPU"}}
        everything = await client.get(f"/v1/kpu/{ELECTION}/PPWP/tps",
                                      params={"area": "16.07.01.1016", "all": "true"})  # fmt: skip
        statuses = {t["tps"]: t["status"] for t in everything.json()["tps"]}
        assert len(statuses) == 28 and statuses[A] == "differing"
        assert sum(1 for s in statuses.values() if s == "neither") == 26

        desa = (await client.get(f"/v1/kpu/{ELECTION}/PPWP/summary",
                                 params={"area": "16.07.01"})).json()  # fmt: skip
        assert desa["child_level"] == "desa"
        assert {c["code"] for c in desa["children"] if c["differing"]} == {"16.07.01.1016"}


async def test_tps_detail_has_kpu_history_and_both_sides(api: Api) -> None:
    async with api.client() as client:
        got = await client.get(f"/v1/kpu/{ELECTION}/PPWP/tps/1607011016001")
        assert got.status_code == 200, got.text
        body = got.json()
        comparison = body["comparison"]
        assert comparison["desk"]["votes"]["c1"] == 40 and comparison["kpu"]["votes"]["c1"] == 42
        assert [(v["origin"], v["kpu"]["votes"]["c1"]) for v in body["history"]] == [
            ("first", 40), ("second", 42),
        ]  # fmt: skip
        missing = await client.get(f"/v1/kpu/{ELECTION}/PPWP/tps/16.07.01.1016.999")
        assert missing.status_code == 404 and missing.json()["code"]
        bad = await client.get(f"/v1/kpu/{ELECTION}/PPWP/tps/nonsense")
        assert bad.status_code == 422


async def test_recap_per_desa_against_the_desks_sums(api: Api) -> None:
    async with api.client() as client:
        got = await client.get(f"/v1/kpu/{ELECTION}/PPWP/recap", params={"area": "16.07.01"})
        assert got.status_code == 200, got.text
        (desa,) = got.json()["desa"]
        assert (desa["code"], desa["name"], desa["desk_tps"], desa["tps_total"]) == (
            "16.07.01.1016", "Mariana", 2, 28,
        )  # fmt: skip
        assert desa["complete"] is False
        assert [(d["kind"], d["line"], d["desk"], d["kpu"]) for d in desa["differences"]] == [
            ("VOTES", "c2", 190, 195)
        ]
        loose = await client.get(f"/v1/kpu/{ELECTION}/PPWP/recap",
                                 params={"area": "16.07.01", "tolerance_votes": 5})  # fmt: skip
        assert loose.json()["desa"][0]["differences"] == []


async def test_exports_per_kecamatan_as_csv_and_per_tps_as_xlsx(api: Api) -> None:
    async with api.client() as client:
        by_kecamatan = await client.get(f"/v1/exports/kpu/{ELECTION}/PPWP.csv")
        by_tps = await client.get(
            f"/v1/exports/kpu/{ELECTION}/PPWP.xlsx", params={"level": "tps", "area": "16.07.01"}
        )
    assert by_kecamatan.headers["content-disposition"] == (
        'attachment; filename="selisih-kpu-pemilu-2024-PPWP-16.07-kecamatan.csv"'
    )
    lines = list(csv.reader(io.StringIO(by_kecamatan.content.decode("utf-8-sig"))))
    assert lines[0][0] == "Selisih dengan KPU: pemilu-2024 PPWP, Banyuasin (16.07)"
    header, body, total = lines[2], lines[3:-1], lines[-1]
    assert header[:6] == ["Kode", "Wilayah", "TPS", "Dibandingkan", "Sama", "Berbeda"]
    assert len(body) == 21 and total[1] == "JUMLAH"
    c1_net = next(i for i, name in enumerate(header) if name.endswith(" selisih"))
    assert (total[header.index("Berbeda")], total[c1_net]) == ("2", "2")

    assert by_tps.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(by_tps.content)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r[0] == "TPS")
    tps_header = list(rows[header_at])
    found = {r[0]: dict(zip(tps_header, r, strict=True)) for r in rows[header_at + 1 :]}
    assert found[A]["Status"] == "berbeda" and "VOTES c1" in str(found[A]["Temuan"])
    assert found[B]["Status"] == "berbeda" and all(t.startswith("16.07.01.") for t in found)
    assert ws.freeze_panes == f"A{header_at + 2}"


async def test_reads_need_a_token_and_unknown_names_are_404(api: Api) -> None:
    async with api.client(token=None) as anonymous:
        for path in (f"/v1/kpu/{ELECTION}/PPWP/summary", f"/v1/kpu/{ELECTION}/PPWP/tps",
                     f"/v1/exports/kpu/{ELECTION}/PPWP.csv"):  # fmt: skip
            assert (await anonymous.get(path)).status_code == 401
    async with api.client() as client:
        assert (await client.get("/v1/kpu/pemilu-2099/PPWP/summary")).status_code == 404
        assert (await client.get(f"/v1/kpu/{ELECTION}/PILBUP/summary")).status_code == 404
        area = await client.get(f"/v1/kpu/{ELECTION}/PPWP/summary", params={"area": "99"})
        assert area.status_code == 404
        level = await client.get(f"/v1/exports/kpu/{ELECTION}/PPWP.csv", params={"level": "x"})
        assert level.status_code == 422
