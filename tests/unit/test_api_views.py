"""Roster snapshot and result assembly without a database: home area, coverage, progress."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.api.repository import AreaSums, RosterRows
from services.api.roster_cache import ElectionMeta, build_snapshot
from services.api.views import area_result, form_votes, opening_election, pct

AREAS = (
    ("16", "provinsi", "Sumsel", None, None),
    ("16.07", "kabko", "Banyuasin", "16", "kabupaten"),
    ("16.07.01", "kecamatan", "Banyuasin I", "16.07", None),
    ("16.07.01.1016", "desa", "Mariana", "16.07.01", "kelurahan"),
    ("16.07.02", "kecamatan", "Banyuasin II", "16.07", None),
    ("16.07.02.2001", "desa", "Sungsang I", "16.07.02", "desa"),
    ("17", "provinsi", "Bengkulu", None, None),
    ("17.01", "kabko", "Bengkulu Selatan", "17", "kabupaten"),
    ("17.01.01", "kecamatan", "Kedurang", "17.01", None),
    ("17.01.01.2001", "desa", "Desa X", "17.01.01", "desa"),
)


def rows(tps_per_desa: list[tuple[str, int, int]]) -> RosterRows:
    """A tiny roster: two provinces, PPWP with three paslon, TPS counts per desa."""
    election = {
        "id": "pemilu-2024",
        "kind": "pemilu",
        "name": "Pemilu",
        "date": date(2024, 2, 14),
        "max_dpt_per_tps": 300,
    }
    keys = ("code", "level", "name", "parent_code", "kind")
    records: dict[str, list[Any]] = {
        "elections": [election],
        "contests": [{"election": "pemilu-2024", "contest": "PPWP", "name": "Presiden"}],
        "parties": [],
        "candidates": [
            {
                "election": "pemilu-2024",
                "contest": "PPWP",
                "nomor": n,
                "name": f"Paslon {n}",
                "generated": False,
            }
            for n in (1, 2, 3)
        ],
        "areas": [dict(zip(keys, a, strict=True)) for a in AREAS],
        "tps_per_desa": [
            {"election": "pemilu-2024", "desa_code": d, "tps": t, "dpt": dpt}
            for d, t, dpt in tps_per_desa
        ],
    }
    return RosterRows(version=7, **records)


def test_home_area_descends_to_the_only_kabupaten() -> None:
    snapshot = build_snapshot(rows([("16.07.01.1016", 3, 700), ("16.07.02.2001", 2, 500)]))
    election = snapshot.elections["pemilu-2024"]
    assert election.home_area == "16.07" and election.top_areas == ("16",)
    assert election.coverage["16.07"].tps == 5 and election.coverage["16"].dpt == 1200
    assert election.coverage["16.07.01.1016"].tps == 3
    assert [x.key for x in election.contests["PPWP"].lines] == ["c1", "c2", "c3"]
    assert [a.code for a in snapshot.breadcrumb("16.07.01.1016")] == [
        "16",
        "16.07",
        "16.07.01",
        "16.07.01.1016",
    ]


def test_home_area_stays_at_the_biggest_province_when_there_are_several() -> None:
    snapshot = build_snapshot(rows([("16.07.01.1016", 3, 700), ("17.01.01.2001", 9, 900)]))
    election = snapshot.elections["pemilu-2024"]
    assert election.top_areas == ("16", "17") and election.home_area == "17.01"


def test_area_result_children_progress_and_percentages() -> None:
    snapshot = build_snapshot(rows([("16.07.01.1016", 3, 700), ("16.07.02.2001", 2, 500)]))
    election = snapshot.elections["pemilu-2024"]
    sums = {
        "16.07": AreaSums({"c1": 30, "c2": 60, "c3": 10}, 100, 4, 104, 1, 0, 0, 250, None),
        "16.07.01": AreaSums({"c1": 30, "c2": 60, "c3": 10}, 100, 4, 104, 1, 0, 0, 250, None),
    }
    result = area_result(
        snapshot=snapshot,
        election=election,
        contest=election.contests["PPWP"],
        area_code="16.07",
        sums=sums,
    )
    assert [t.pct for t in result.totals] == [30.0, 60.0, 10.0]
    assert (result.progress.tps_reported, result.progress.tps_total) == (1, 5)
    assert result.progress.dpt_total == 1200 and result.turnout_pct == pct(104, 250)
    assert [c.code for c in result.children] == ["16.07.01", "16.07.02"]
    assert result.children[1].progress.tps_total == 2 and result.children[1].votes == {}
    assert result.child_level == "kecamatan"


def test_form_votes_reads_paslon_and_party_forms() -> None:
    assert form_votes({"suara_calon": {"1": 5, "2": 7}}) == {"c1": 5, "c2": 7}
    party = {"suara_partai": [{"nomor_partai": 3, "jumlah": 12}, {"nomor_partai": 5, "jumlah": 1}]}
    assert form_votes(party) == {"p3": 12, "p5": 1}


def _election(election_id: str, day: date) -> ElectionMeta:
    return ElectionMeta(
        id=election_id,
        kind="pemilu",
        name=election_id,
        date=day,
        contests={},
        coverage={},
        top_areas=(),
        home_area="16.07",
    )


def test_dashboard_opens_on_latest_activity_then_today_then_first() -> None:
    pilkada = _election("pilkada-2024", date(2024, 11, 27))
    pemilu = _election("pemilu-2024", date(2024, 2, 14))
    listed = [pilkada, pemilu]  # newest date first, as the roster lists them
    at = datetime(2024, 2, 14, 9, 0, tzinfo=UTC)
    # Results only in Pemilu: it wins although Pilkada is listed first.
    assert opening_election(listed, {"pemilu-2024": at}, date(2024, 11, 27)) == "pemilu-2024"
    newer = {"pemilu-2024": at, "pilkada-2024": at + timedelta(seconds=1)}
    assert opening_election(listed, newer, date(2024, 2, 14)) == "pilkada-2024"
    # No results anywhere: the election held today, else the first listed.
    assert opening_election(listed, {}, date(2024, 2, 14)) == "pemilu-2024"
    assert opening_election(listed, {}, date(2025, 1, 1)) == "pilkada-2024"
    assert opening_election([], {}, date(2025, 1, 1)) is None
