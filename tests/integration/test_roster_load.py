"""Roster loading on real PostgreSQL: counts, idempotent re-load, exact errors, no partial load."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from deskpemilu.roster_load import LoadReport, RosterFileError, load_roster
from shared.db import connect, migrate
from shared.form import Contest
from shared.roster_db import fetch_all_rosters, fetch_election_roster, roster_version
from tests.dbs import drop_database, one_row, pairs

pytestmark = pytest.mark.integration

ROSTERS = Path(__file__).resolve().parents[2] / "data" / "rosters"
PEMILU = ROSTERS / "pemilu-2024-banyuasin"
PILKADA = ROSTERS / "pilkada-2024-banyuasin"
ROSTER_TABLES = ("elections", "contests", "parties", "candidates", "areas", "tps", "operators")


@pytest.fixture(scope="module")
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh, migrated database of this module's own; dropped at the end."""
    name = f"test_roster_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = database_url.rpartition("/")
    connection = await connect(f"{base}/{name}")
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()
        try:
            await drop_database(admin, name)
        finally:
            await admin.close()


@pytest.fixture(scope="module")
async def pemilu_loaded(conn: asyncpg.Connection) -> tuple[LoadReport, float]:
    """The shipped Pemilu roster loaded once, with the time the load took."""
    started = time.perf_counter()
    report = await load_roster(conn, PEMILU)
    return report, time.perf_counter() - started


async def table_state(conn: asyncpg.Connection, table: str) -> list[tuple[object, ...]]:
    """Every row with its xmin: equal states mean no row was even rewritten."""
    rows = await conn.fetch(f"SELECT xmin::text AS xmin, t.* FROM {table} t ORDER BY 1, 2")
    return sorted(tuple(r) for r in rows)


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Row counts of the roster tables plus the roster version and the load log."""
    result = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ROSTER_TABLES}
    result["roster_loads"] = await conn.fetchval("SELECT count(*) FROM roster_loads")
    result["area_summary"] = await conn.fetchval("SELECT count(*) FROM area_summary")
    result["version"] = await roster_version(conn)
    return result


def copy_roster(source: Path, target: Path, election_id: str) -> Path:
    """A copy of a shipped roster under another election id, to edit."""
    shutil.copytree(source, target)
    election = target / "election.csv"
    election.write_text(
        election.read_text().replace(f"\n{source.name.rsplit('-', 1)[0]},", f"\n{election_id},")
    )
    assert f"\n{election_id}," in election.read_text()
    return target


async def test_load_banyuasin_pemilu_counts(
    conn: asyncpg.Connection, pemilu_loaded: tuple[LoadReport, float]
) -> None:
    report, seconds = pemilu_loaded
    print(f"\nload of {PEMILU.name}: {seconds:.3f} s; {report}")
    levels = await pairs(conn, "SELECT level, count(*) FROM areas GROUP BY level")
    assert levels == {"provinsi": 1, "kabko": 1, "kecamatan": 21, "desa": 313}
    kinds = await pairs(conn, "SELECT kind, count(*) FROM areas WHERE level = 'desa' GROUP BY kind")
    assert kinds == {"desa": 288, "kelurahan": 25}
    tps = await one_row(
        conn,
        "SELECT count(*) AS n, sum(dpt) AS dpt, sum(dpt_l) AS l, sum(dpt_p) AS p, max(dpt) AS top, "
        "count(*) FILTER (WHERE special) AS special, bool_and(generated) AS generated "
        "FROM tps WHERE election = 'pemilu-2024'",
    )
    assert tps == {
        "n": 2_564,
        "dpt": 625_988,
        "l": 318_894,
        "p": 307_094,
        "top": 300,
        "special": 7,
        "generated": True,
    }
    assert await conn.fetchval("SELECT count(*) FROM contests") == 5
    assert await conn.fetchval("SELECT count(*) FROM parties") == 18
    assert await conn.fetchval("SELECT count(*) FROM candidates") == report.candidates == 321
    assert await conn.fetchval("SELECT count(*) FROM operators WHERE demo") == 65
    assert report.areas_by_level == {"provinsi": 1, "kabko": 1, "kecamatan": 21, "desa": 313}
    assert (report.tps, report.dpt_total, report.dpt_l, report.dpt_p) == (
        2_564,
        625_988,
        318_894,
        307_094,
    )
    # The roster's share of area_summary: every area of the tree, per contest, on shard 0.
    summary = await conn.fetch(
        "SELECT contest, tps_total, dpt_total FROM area_summary "
        "WHERE election = 'pemilu-2024' AND area_code = '16.07' ORDER BY contest"
    )
    assert [tuple(r) for r in summary] == [
        (c, 2_564, 625_988) for c in sorted(["PPWP", "DPR", "DPD", "DPRD_PROV", "DPRD_KABKO"])
    ]
    assert await conn.fetchval(
        "SELECT count(*) FROM area_summary WHERE election = 'pemilu-2024'"
    ) == 5 * (1 + 1 + 21 + 313)


async def test_reload_changes_nothing_but_the_version(
    conn: asyncpg.Connection, pemilu_loaded: tuple[LoadReport, float]
) -> None:
    before = {t: await table_state(conn, t) for t in (*ROSTER_TABLES, "area_summary")}
    before_counts = await counts(conn)
    report = await load_roster(conn, PEMILU)
    assert {t: await table_state(conn, t) for t in before} == before
    after_counts = await counts(conn)
    assert after_counts["roster_loads"] == before_counts["roster_loads"] + 1
    assert after_counts["version"] > before_counts["version"]  # caches refresh, harmlessly
    assert report.roster_version == after_counts["version"]
    assert report.removed == {"candidates": 0, "parties": 0, "contests": 0, "tps": 0}


async def test_second_election_adds_to_the_first(
    conn: asyncpg.Connection, pemilu_loaded: tuple[LoadReport, float]
) -> None:
    pemilu_before = await conn.fetch("SELECT * FROM tps WHERE election = 'pemilu-2024'")
    report = await load_roster(conn, PILKADA)
    assert report.tps == 1_389
    per_election = await pairs(conn, "SELECT election, sum(dpt) FROM tps GROUP BY election")
    assert per_election == {"pemilu-2024": 625_988, "pilkada-2024": 629_201}
    assert await conn.fetchval("SELECT max(dpt) FROM tps WHERE election = 'pilkada-2024'") <= 600
    assert await conn.fetchval("SELECT count(*) FROM areas") == 336
    assert await conn.fetchval("SELECT count(*) FROM operators") == 65
    after = await conn.fetch("SELECT * FROM tps WHERE election = 'pemilu-2024'")
    assert [tuple(r) for r in after] == [tuple(r) for r in pemilu_before]


async def test_fetch_rosters_builds_the_shared_model(
    conn: asyncpg.Connection, pemilu_loaded: tuple[LoadReport, float]
) -> None:
    await load_roster(conn, PILKADA)
    rosters = await fetch_all_rosters(conn)
    assert {"pemilu-2024", "pilkada-2024"} <= set(rosters)
    pemilu = rosters["pemilu-2024"]
    assert (pemilu.kind, pemilu.max_dpt_per_tps, pemilu.ballot_reserve_pct) == ("pemilu", 300, 2.0)
    assert len(pemilu.tps) == 2_564
    assert sum(t.dpt for t in pemilu.tps.values()) == 625_988
    first = pemilu.tps["16.07.01.1016.001"]
    assert (first.number, first.desa_code, first.kecamatan_code) == (1, "16.07.01.1016", "16.07.01")
    assert pemilu.tps["16.07.03.1033.904"].number == 904
    assert pemilu.contests[Contest.PPWP].candidates == frozenset({1, 2, 3})
    assert len(pemilu.contests[Contest.DPD].candidates) == 15
    dpr = pemilu.contests[Contest.DPR]
    assert set(dpr.parties) == {*range(1, 18), 24}
    assert all(3 <= len(c) <= 8 for c in dpr.parties.values())
    pilkada = rosters["pilkada-2024"]
    assert (pilkada.max_dpt_per_tps, pilkada.ballot_reserve_pct) == (600, 2.5)
    assert pilkada.contests[Contest.PILBUP].candidates == frozenset({1, 2})
    assert pilkada.contests[Contest.PILGUB].candidates == frozenset({1, 2, 3})
    assert await fetch_election_roster(conn, "pilkada-2024") == pilkada
    assert await fetch_election_roster(conn, "pemilu-2099") is None


async def test_changed_roster_replaces_that_elections_rows(
    conn: asyncpg.Connection, pemilu_loaded: tuple[LoadReport, float], tmp_path: Path
) -> None:
    folder = copy_roster(PILKADA, tmp_path / "uji", "pilkada-uji")
    await load_roster(conn, folder)
    tps_file = folder / "tps.csv"
    lines = tps_file.read_text().splitlines(keepends=True)
    dropped = lines.pop(-1).split(",")  # the last TPS goes
    tps_file.write_text("".join(lines))
    candidates = folder / "candidates.csv"
    candidates.write_text(candidates.read_text().replace("PILBUP,,2,", "PILBUP,,3,"))
    others_before = await table_state(conn, "tps")
    report = await load_roster(conn, folder)
    assert report.removed == {"candidates": 1, "parties": 0, "contests": 0, "tps": 1}
    assert report.tps == 1_388
    assert await conn.fetchval("SELECT count(*) FROM tps WHERE election = 'pilkada-uji'") == 1_388
    assert await conn.fetchval(
        "SELECT array_agg(nomor ORDER BY nomor) FROM candidates "
        "WHERE election = 'pilkada-uji' AND contest = 'PILBUP'"
    ) == [1, 3]
    dropped_dpt = int(dropped[2]) + int(dropped[3])
    assert (
        await conn.fetchval(
            "SELECT dpt_total FROM area_summary WHERE election = 'pilkada-uji' "
            "AND contest = 'PILBUP' AND area_code = '16'"
        )
        == 629_201 - dropped_dpt
    )
    # Other elections' TPS were not touched.
    others_after = await table_state(conn, "tps")
    assert [r for r in others_after if r[1] != "pilkada-uji"] == [
        r for r in others_before if r[1] != "pilkada-uji"
    ]


def _append(line: str) -> Callable[[list[str]], int]:
    def edit(lines: list[str]) -> int:
        lines.append(line)
        return len(lines)

    return edit


def _replace_field(row_text: str, column: int, value: str) -> Callable[[list[str]], int]:
    """Edit the first line starting with row_text: set its column (1-based) to value."""

    def edit(lines: list[str]) -> int:
        index = next(i for i, line in enumerate(lines) if line.startswith(row_text))
        fields = lines[index].split(",")
        fields[column - 1] = value
        lines[index] = ",".join(fields)
        return index + 1

    return edit


def _duplicate_first_data_row(lines: list[str]) -> int:
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.append(lines[header + 1])
    return len(lines)


BAD_FILES = [
    pytest.param(
        PILKADA,
        "areas.csv",
        _append("16.07.99.2001,desa,Desa Uji,16.07.99,desa"),
        4,
        "ROSTER_UNKNOWN_PARENT",
        id="unknown-parent",
    ),
    pytest.param(
        PILKADA,
        "areas.csv",
        _replace_field("16.07.01.2001,", 4, "16.07.02"),
        4,
        "ROSTER_BAD_PARENT",
        id="parent-not-prefix",
    ),
    pytest.param(
        PILKADA, "tps.csv", _duplicate_first_data_row, 2, "ROSTER_DUPLICATE", id="duplicate-tps"
    ),
    pytest.param(
        PILKADA,
        "tps.csv",
        _replace_field("16.07.05.", 3, "500"),
        3,
        "ROSTER_DPT_ABOVE_CAP",
        id="dpt-above-cap",
    ),
    pytest.param(
        PEMILU,
        "tps.csv",
        _replace_field("16.07.03.1033,904,", 4, "290"),
        3,
        "ROSTER_DPT_ABOVE_CAP",
        id="dpt-above-pemilu-cap",
    ),
    pytest.param(
        PILKADA,
        "tps.csv",
        _replace_field("16.07.10.", 2, "1a"),
        2,
        "ROSTER_BAD_NUMBER",
        id="bad-tps-number",
    ),
    pytest.param(
        PILKADA,
        "tps.csv",
        _replace_field("16.07.11.", 4, "2.5"),
        4,
        "ROSTER_BAD_NUMBER",
        id="bad-dpt-number",
    ),
    pytest.param(
        PILKADA,
        "tps.csv",
        _replace_field("16.07.12.", 1, "16.07.12.9999"),
        1,
        "ROSTER_UNKNOWN_AREA",
        id="tps-of-unknown-desa",
    ),
    pytest.param(
        PILKADA,
        "candidates.csv",
        _replace_field("PILBUP,", 1, "PILKADES"),
        1,
        "ROSTER_UNKNOWN_CONTEST",
        id="unknown-contest",
    ),
    pytest.param(
        PILKADA,
        "contests.csv",
        _replace_field("PILBUP,", 1, "PPWP"),
        1,
        "ROSTER_CONTEST_NOT_IN_ELECTION",
        id="pemilu-contest-in-pilkada",
    ),
    pytest.param(
        PEMILU,
        "candidates.csv",
        _replace_field("DPR,5,1,", 2, "99"),
        2,
        "ROSTER_UNKNOWN_PARTY",
        id="candidate-of-unknown-party",
    ),
    pytest.param(
        PEMILU,
        "candidates.csv",
        _replace_field("DPR,5,1,", 2, ""),
        2,
        "ROSTER_PARTY_REQUIRED",
        id="party-list-candidate-without-party",
    ),
    pytest.param(
        PILKADA,
        "operators.csv",
        _replace_field("op-16.07.02,", 5, "081100000201"),
        5,
        "ROSTER_BAD_PHONE",
        id="phone-not-e164",
    ),
    pytest.param(
        PILKADA,
        "operators.csv",
        _replace_field("op-16.07.02,", 4, "16.07.77"),
        4,
        "ROSTER_UNKNOWN_AREA",
        id="scope-unknown-area",
    ),
    # Found only in the database: another operator there already has this phone number.
    pytest.param(
        PILKADA,
        "operators.csv",
        _replace_field("op-16.07.02,", 1, "op-baru"),
        5,
        "ROSTER_PHONE_TAKEN",
        id="phone-of-another-operator-in-db",
    ),
]


@pytest.mark.parametrize(("source", "file", "edit", "column", "code"), BAD_FILES)
async def test_bad_file_names_file_line_column_and_loads_nothing(
    conn: asyncpg.Connection,
    pemilu_loaded: tuple[LoadReport, float],
    tmp_path: Path,
    source: Path,
    file: str,
    edit: Callable[[list[str]], int],
    column: int,
    code: str,
) -> None:
    election_id = f"uji-{uuid.uuid4().hex[:8]}"
    folder = copy_roster(source, tmp_path / "bad", election_id)
    path = folder / file
    lines = path.read_text().splitlines()
    line = edit(lines)
    path.write_text("\n".join(lines) + "\n")
    before = await counts(conn)

    with pytest.raises(RosterFileError) as caught:
        await load_roster(conn, folder)

    error = caught.value
    assert (Path(error.file).name, error.line, error.column, error.code) == (
        file,
        line,
        column,
        code,
    ), str(error)
    assert " / " in error.message  # Indonesian / English
    assert f"{file}:{line}:{column}: {code}" in str(error)
    assert await counts(conn) == before
    assert await conn.fetchval("SELECT count(*) FROM elections WHERE id = $1", election_id) == 0


async def test_all_problems_are_reported_at_once(conn: asyncpg.Connection, tmp_path: Path) -> None:
    folder = copy_roster(PILKADA, tmp_path / "bad", "uji-banyak")
    tps = folder / "tps.csv"
    lines = tps.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    for offset in (1, 2, 3):
        fields = lines[header + offset].split(",")
        fields[1] = "x"
        lines[header + offset] = ",".join(fields)
    tps.write_text("\n".join(lines) + "\n")
    with pytest.raises(RosterFileError) as caught:
        await load_roster(conn, folder)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (header + 2, 2),
        (header + 3, 2),
        (header + 4, 2),
    ]


async def test_missing_file_and_unknown_column(conn: asyncpg.Connection, tmp_path: Path) -> None:
    folder = copy_roster(PILKADA, tmp_path / "bad", "uji-berkas")
    (folder / "contests.csv").unlink()
    with pytest.raises(RosterFileError) as caught:
        await load_roster(conn, folder)
    assert (Path(caught.value.file).name, caught.value.code) == (
        "contests.csv",
        "ROSTER_MISSING_FILE",
    )
    shutil.copy(PILKADA / "contests.csv", folder / "contests.csv")
    areas = folder / "areas.csv"
    areas.write_text(
        areas.read_text().replace(
            "code,level,name,parent_code,kind", "code,level,nama,parent_code,kind"
        )
    )
    with pytest.raises(RosterFileError) as caught:
        await load_roster(conn, folder)
    header_line = next(
        i for i, line in enumerate(areas.read_text().splitlines(), 1) if line.startswith("code,")
    )
    assert (caught.value.line, caught.value.column, caught.value.code) == (
        header_line,
        3,
        "ROSTER_UNKNOWN_COLUMN",
    )
