"""`deskpemilu kpu import` / `recap` against the real PostgreSQL: a source apart, with history."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from deskpemilu.roster_gen import ROSTERS_DIR
from deskpemilu.roster_load import load_roster
from shared.db import connect
from shared.kpu import repository as repo
from tests.kpu_http import serve_folder

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "kpu"
PEMILU_TREE = FIXTURES / "pemilu" / "hhcw" / "ppwp"
PILKADA_TREE = FIXTURES / "pilkada" / "hhcw" / "pkwkk"
DESA = "16/1607/160701/1607011016"
KPU_TABLES = ("kpu_tps_versions", "kpu_tps_current", "kpu_recap_versions", "kpu_recap_current")
DESK_TABLES = ("tps_results", "area_summary", "submissions", "tps_result_versions")


@pytest.fixture
async def loaded(scratch_database: str) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTERS_DIR / "pemilu-2024-banyuasin")
        yield scratch_database, conn
    finally:
        await conn.close()


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "deskpemilu.cli", "kpu", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def state(conn: asyncpg.Connection, tables: tuple[str, ...]) -> dict[str, list[Any]]:
    out = {}
    for table in tables:
        rows = await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")
        out[table] = [tuple(r.values()) for r in rows]
    return out


def ppwp_import(url: str, source: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(url, "import", source, "--election", "pemilu-2024", "--contest", "PPWP",
               "--candidates", str(FIXTURES / "pemilu" / "ppwp.json"), *extra)  # fmt: skip


async def test_folder_import_stores_good_reports_bad_and_twice_changes_nothing(
    loaded: tuple[str, asyncpg.Connection],
) -> None:
    url, conn = loaded
    desk_before = await state(conn, DESK_TABLES)
    first = ppwp_import(url, str(PEMILU_TREE))
    assert first.returncode == 1, first.stderr  # bad documents: reported, the rest stored
    bad_lines = [ln for ln in first.stderr.splitlines() if ln.startswith("bad ")]
    assert len(bad_lines) == 3, first.stderr
    for number, code in (("006", "KPU_NOT_JSON"), ("007", "KPU_UNKNOWN_CANDIDATE"),
                         ("008", "KPU_BAD_FIELD")):  # fmt: skip
        path = PEMILU_TREE / DESA / f"1607011016{number}.json"
        assert any(f"{path}: {code}: " in ln for ln in bad_lines), (number, first.stderr)
    assert "5 TPS documents: 5 new, 0 changed, 0 unchanged" in first.stderr
    current = await repo.fetch_kpu_current(conn, election="pemilu-2024", contest="PPWP")
    assert sorted(current) == [f"16.07.01.1016.{n:03d}" for n in range(1, 6)]
    assert current["16.07.01.1016.001"].data.votes == {"c1": 44, "c2": 78, "c3": 18}
    assert current["16.07.01.1016.002"].data.state == "pending"
    assert current["16.07.01.1016.005"].data.psu == "PSU 24 Februari 2024"
    after_first = await state(conn, KPU_TABLES)
    # A source apart: nothing of the desk's moved.
    assert await state(conn, DESK_TABLES) == desk_before

    second = ppwp_import(url, str(PEMILU_TREE))
    assert "5 TPS documents: 0 new, 0 changed, 5 unchanged" in second.stderr, second.stderr
    assert await state(conn, KPU_TABLES) == after_first

    # The desk has counted nothing: every published TPS is missing at the desk, and KPU's
    # misread (004: 1,963 votes on a DPT of 196) fails its own arithmetic.
    diff = cli(url, "diff", "--election", "pemilu-2024", "--contest", "PPWP", "--area", "16.07.01")
    assert diff.returncode == 0, diff.stderr
    found = {tuple(line.split("\t")[:3]) for line in diff.stdout.splitlines() if "\t" in line}
    assert found == {
        ("16.07.01.1016.001", "MISSING_AT_DESK", ""),
        ("16.07.01.1016.004", "MISSING_AT_DESK", ""),
        ("16.07.01.1016.004", "KPU_ABOVE_DPT", ""),
        ("16.07.01.1016.005", "MISSING_AT_DESK", ""),
    }


async def test_reimport_of_changed_numbers_keeps_what_kpu_showed_before(
    loaded: tuple[str, asyncpg.Connection], tmp_path: Path
) -> None:
    url, conn = loaded
    tree = tmp_path / "ppwp"
    shutil.copytree(PEMILU_TREE, tree)
    for bad in ("006", "007", "008"):
        (tree / DESA / f"1607011016{bad}.json").unlink()
    assert ppwp_import(url, str(tree)).returncode == 0
    doc = tree / DESA / "1607011016001.json"
    doc.write_text(doc.read_text().replace('"100026": 78', '"100026": 87'))
    entered = tree / DESA / "1607011016002.json"
    entered.write_text(
        '{"chart": {"null": null, "100025": 50, "100026": 90, "100027": 20}, '
        '"administrasi": {"suara_sah": 160, "suara_tidak_sah": 1, "suara_total": 161}, '
        '"psu": null, "ts": "2024-02-17 08:00:00", "status_suara": true, "status_adm": true}'
    )
    run = ppwp_import(url, str(tree))
    assert run.returncode == 0, run.stderr
    assert "5 TPS documents: 0 new, 2 changed, 3 unchanged" in run.stderr, run.stderr
    history = await repo.fetch_kpu_history(
        conn, election="pemilu-2024", contest="PPWP", tps="16.07.01.1016.001"
    )
    assert [h.data.votes["c2"] for h in history] == [78, 87]
    assert history[0].seen_at <= history[1].seen_at
    pending_then = await repo.fetch_kpu_history(
        conn, election="pemilu-2024", contest="PPWP", tps="16.07.01.1016.002"
    )
    assert [h.data.state for h in pending_then] == ["pending", "published"]
    rows = await conn.fetch("SELECT tps, versions FROM kpu_tps_current ORDER BY tps")
    versions = {r["tps"]: r["versions"] for r in rows}
    assert versions == {
        "16.07.01.1016.001": 2, "16.07.01.1016.002": 2, "16.07.01.1016.003": 1,
        "16.07.01.1016.004": 1, "16.07.01.1016.005": 1,
    }  # fmt: skip


async def test_url_import_fetches_the_frame_over_http_and_goes_on_past_failures(
    loaded: tuple[str, asyncpg.Connection],
) -> None:
    url, conn = loaded
    failing = frozenset({f"/pemilu/hhcw/ppwp/{DESA}/1607011016003.json"})
    with serve_folder(FIXTURES, failing=failing) as (base, requests):
        run = cli(url, "import", f"{base}/pemilu/hhcw/ppwp", "--election", "pemilu-2024",
                  "--contest", "PPWP", "--candidates", f"{base}/pemilu/ppwp.json",
                  "--area", "16.07.01.1016")  # fmt: skip
    assert run.returncode == 1, run.stderr
    frame = await repo.fetch_frame(conn, election="pemilu-2024", area="16.07.01.1016")
    assert len(frame) == 28
    # 001, 002, 004, 005 stored; 003 answered 503 three times; 006-008 bad; the rest 404.
    assert "4 TPS documents: 4 new, 0 changed, 0 unchanged; 20 not published; 4 bad" in run.stderr
    assert f"{base}/pemilu/hhcw/ppwp/{DESA}/1607011016003.json: KPU_UNREACHABLE: HTTP 503" in (
        run.stderr
    )
    assert requests.count(next(iter(failing))) == 3
    current = await repo.fetch_kpu_current(conn, election="pemilu-2024", contest="PPWP")
    assert sorted(current) == ["16.07.01.1016.001", "16.07.01.1016.002", "16.07.01.1016.004",
                               "16.07.01.1016.005"]  # fmt: skip


async def test_pilkada_tungsura_import(loaded: tuple[str, asyncpg.Connection]) -> None:
    url, conn = loaded
    await load_roster(conn, ROSTERS_DIR / "pilkada-2024-banyuasin")
    candidates = str(FIXTURES / "pilkada" / "pkwkk" / "1607.json")
    run = cli(url, "import", str(PILKADA_TREE), "--election", "pilkada-2024", "--contest",
              "PILBUP", "--candidates", candidates)  # fmt: skip
    assert run.returncode == 0, run.stderr
    current = await repo.fetch_kpu_current(conn, election="pilkada-2024", contest="PILBUP")
    assert current["16.07.01.1016.001"].data.votes == {"c1": 201, "c2": 143}
    assert current["16.07.01.1016.003"].data.psu is not None
    assert current["16.07.01.1016.002"].data.state == "pending"


async def test_mapping_that_does_not_fit_the_roster_stops_before_writing(
    loaded: tuple[str, asyncpg.Connection], tmp_path: Path
) -> None:
    url, conn = loaded
    mapping = tmp_path / "map.csv"
    mapping.write_text("kpu_id,line\n100025,c1\n100026,c2\n100027,c4\n")
    run = cli(url, "import", str(PEMILU_TREE), "--election", "pemilu-2024", "--contest", "PPWP",
              "--candidates", str(mapping))  # fmt: skip
    assert run.returncode == 2
    assert "c4" in run.stderr
    assert await conn.fetchval("SELECT count(*) FROM kpu_tps_versions") == 0


async def test_recap_import_csv_and_xlsx(
    loaded: tuple[str, asyncpg.Connection], tmp_path: Path
) -> None:
    from openpyxl import Workbook

    url, conn = loaded
    csv_file = tmp_path / "dhasil-160701.csv"
    csv_file.write_text(
        "# D.Hasil Kecamatan Banyuasin I, PPWP\n"
        "kode_desa,nama_desa,dpt,pengguna,suara_sah,suara_tidak_sah,c1,c2,c3\n"
        "1607011016,Mariana,6800,5400,5300,100,800,3900,600\n"
        "16.07.01.1021,Mariana Ilir,5100,4000,3950,50,600,2900,450\n"
        "16.07.01.9999,Nowhere,1,1,1,0,1,0,0\n"
        "1607012001,Bad,1,1,x,0,1,0,0\n"
    )
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["kode_desa", "suara_sah", "suara_tidak_sah", "c1", "c2", "c3"])
    sheet.append(["1607022001", 900, 10, 100, 700, 100])
    xlsx_file = tmp_path / "dhasil-160702.xlsx"
    book.save(xlsx_file)
    args = ("recap", str(csv_file), str(xlsx_file), "--election", "pemilu-2024",
            "--contest", "PPWP")  # fmt: skip
    run = cli(url, *args)
    assert run.returncode == 1, run.stderr
    assert "3 desa rows: 3 new, 0 changed, 0 unchanged; 2 bad" in run.stderr, run.stderr
    assert f"{csv_file}:16.07.01.9999: KPU_RECAP_UNKNOWN_DESA" in run.stderr
    assert f"{csv_file}:6: KPU_RECAP_BAD_NUMBER" in run.stderr
    rows = await repo.fetch_recap_current(conn, election="pemilu-2024", contest="PPWP")
    assert rows["16.07.01.1016"].votes == {"c1": 800, "c2": 3900, "c3": 600}
    assert rows["16.07.02.2001"].suara_sah == 900
    before = await state(conn, KPU_TABLES)
    again = cli(url, *args)
    assert "0 new, 0 changed, 3 unchanged" in again.stderr
    assert await state(conn, KPU_TABLES) == before
