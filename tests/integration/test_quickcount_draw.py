"""`deskpemilu quickcount draw` on real PostgreSQL: stored with its design, exported, fixed."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from deskpemilu.quickcount.design import draw_sample
from deskpemilu.roster_load import load_roster
from shared.db import connect
from shared.roster_db import fetch_election_roster

pytestmark = pytest.mark.integration

PILKADA = Path(__file__).resolve().parents[2] / "data" / "rosters" / "pilkada-2024-banyuasin"


async def _cli(database_url: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpemilu.cli", "quickcount", *args,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_draw_store_export_and_refuse_after_the_first_result(
    scratch_database: str, tmp_path: Path
) -> None:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, PILKADA)
        roster = await fetch_election_roster(conn, "pilkada-2024")
        assert roster is not None
        csv_path = tmp_path / "sampel.csv"
        code, out = await _cli(
            scratch_database, "draw", "--election", "pilkada-2024", "--seed", "42",
            "--out", str(csv_path),
        )  # fmt: skip
        assert code == 0, out
        stored = await conn.fetchrow("SELECT * FROM quickcount_samples WHERE current")
        assert stored is not None
        # 10% of the 1,389 TPS.
        assert (stored["seed"], stored["size"], stored["forced"]) == (42, 139, False)
        assert "systematic" in stored["design"] and "dpt" in stored["sample_order"]
        tps = [r["tps"] for r in await conn.fetch("SELECT tps FROM quickcount_sample_tps")]
        assert sorted(tps) == list(draw_sample(roster, seed=42).tps)
        with csv_path.open() as f:
            rows = list(csv.DictReader(f))
        assert [r["tps"] for r in rows] == sorted(tps)
        assert rows[0]["nama_kecamatan"] and rows[0]["nama_desa"]

        xlsx = tmp_path / "sampel.xlsx"
        code, out = await _cli(
            scratch_database, "export", "--election", "pilkada-2024", "--out", str(xlsx)
        )
        assert code == 0, out
        sheet = load_workbook(xlsx).active
        assert sheet is not None
        assert sheet.max_row == 1 + 139 and sheet.cell(1, 5).value == "tps"  # header + sample

        # Bad input: nothing stored.
        for args, expect in (
            (["--election", "nope", "--seed", "1"], "ELECTION_UNKNOWN"),
            (["--election", "pilkada-2024", "--seed", "1", "--size", "99999"], "SAMPLE_TOO_LARGE"),
            (["--election", "pilkada-2024", "--seed", "1", "--out", "x.pdf"], "EXPORT_FORMAT"),
        ):
            code, out = await _cli(scratch_database, "draw", *args)
            assert code == 2 and expect in out, out
        assert await conn.fetchval("SELECT count(*) FROM quickcount_samples") == 1

        # A first result arrives: the sample is fixed unless --force.
        first = tps[0]
        await conn.execute(
            """INSERT INTO tps_results (election, contest, tps, submission_id, votes, suara_sah,
                                        suara_tidak_sah, operator_id, channel, received_at)
               VALUES ('pilkada-2024', 'PILBUP', $1, gen_random_uuid(), '{"c1": 1}', 1, 0,
                       'op-test', 'api', now())""",
            first,
        )
        code, out = await _cli(
            scratch_database, "draw", "--election", "pilkada-2024", "--seed", "7"
        )
        assert code == 2 and "SAMPLE_FIXED" in out and "--force" in out
        assert await conn.fetchval("SELECT count(*) FROM quickcount_samples") == 1
        code, out = await _cli(
            scratch_database, "draw", "--election", "pilkada-2024", "--seed", "7", "--force",
            "--reason", "test",
        )  # fmt: skip
        assert code == 0, out
        samples = await conn.fetch("SELECT seed, forced, current, results_at_draw, reason FROM "
                                   "quickcount_samples ORDER BY id")  # fmt: skip
        assert [tuple(r) for r in samples] == [
            (42, False, False, 0, ""),
            (7, True, True, 1, "test"),
        ]
    finally:
        await conn.close()
