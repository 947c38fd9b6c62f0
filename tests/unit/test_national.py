"""The synthetic national roster: exact counts per level, DPT totals and cap, stable bytes."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.national import (
    ELECTION_ID,
    NATIONAL,
    REAL_PROVINSI_CODES,
    Scale,
    apportion,
    build,
    generate,
)
from deskpemilu.roster_load import read_roster_folder

SMALL = Scale(
    provinsi=3, kabko=14, kecamatan=90, desa=700, tps=6_000, dpt_l=700_000, dpt_p=720_000, kota=3
)
SHAPES = {
    "provinsi": re.compile(r"^\d{2}$"),
    "kabko": re.compile(r"^\d{2}\.\d{2}$"),
    "kecamatan": re.compile(r"^\d{2}\.\d{2}\.\d{2}$"),
    "desa": re.compile(r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"),
}


def rows(path: Path) -> list[dict[str, str]]:
    """Data rows of a roster CSV, read with the csv module alone (not the loader)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def check_folder(folder: Path, scale: Scale) -> None:
    """Counts, codes, parents, DPT and operators of a written folder match the scale."""
    areas = rows(folder / "areas.csv")
    levels = Counter(a["level"] for a in areas)
    assert levels == {
        "provinsi": scale.provinsi,
        "kabko": scale.kabko,
        "kecamatan": scale.kecamatan,
        "desa": scale.desa,
    }
    codes = {a["code"] for a in areas}
    assert len(codes) == len(areas)
    for area in areas:
        assert SHAPES[area["level"]].match(area["code"]), area
        if area["level"] == "provinsi":
            assert area["parent_code"] == ""
            assert int(area["code"]) not in REAL_PROVINSI_CODES
        else:
            assert area["parent_code"] == area["code"].rsplit(".", 1)[0] in codes
        if area["level"] == "desa":
            assert area["kind"] == {"1": "kelurahan", "2": "desa"}[area["code"][9]]
        if area["level"] == "kabko":
            assert area["kind"] == ("kota" if area["code"][3:] >= "71" else "kabupaten")
    assert sum(1 for a in areas if a["kind"] == "kota") == scale.kota

    tps = rows(folder / "tps.csv")
    assert len(tps) == scale.tps
    assert len({(t["desa_code"], t["number"]) for t in tps}) == scale.tps
    desa = {a["code"] for a in areas if a["level"] == "desa"}
    assert {t["desa_code"] for t in tps} == desa  # every desa has a TPS
    dpt_l = sum(int(t["dpt_l"]) for t in tps)
    dpt_p = sum(int(t["dpt_p"]) for t in tps)
    assert (dpt_l, dpt_p) == (scale.dpt_l, scale.dpt_p)
    assert max(int(t["dpt_l"]) + int(t["dpt_p"]) for t in tps) <= 300
    assert all(1 <= int(t["number"]) < 900 or t["number"] == "901" for t in tps)
    assert all(t["generated"] == "true" for t in tps)

    operators = rows(folder / "operators.csv")
    kecamatan = sorted(a["code"] for a in areas if a["level"] == "kecamatan")
    assert sorted(o["scope"] for o in operators if o["role"] == "operator") == kecamatan
    assert Counter(o["role"] for o in operators) == {"operator": scale.kecamatan, "admin": 1,
                                                     "viewer": 1}  # fmt: skip
    assert len({o["phone"] for o in operators}) == len(operators)
    assert all(o["demo"] == "true" for o in operators)

    contests = [c["contest"] for c in rows(folder / "contests.csv")]
    assert contests == ["PPWP", "DPR", "DPD", "DPRD_PROV", "DPRD_KABKO"]
    assert len(rows(folder / "parties.csv")) == 18
    candidates = rows(folder / "candidates.csv")
    assert [c["nomor"] for c in candidates if c["contest"] == "PPWP"] == ["1", "2", "3"]
    assert all(c["generated"] == "true" for c in candidates if c["contest"] != "PPWP")


def test_small_scale_has_exact_counts_and_the_loader_accepts_it(tmp_path: Path) -> None:
    report = generate(tmp_path, scale=SMALL)
    check_folder(tmp_path, SMALL)
    assert (report.tps, report.desa, report.dpt_l + report.dpt_p) == (6_000, 700, SMALL.dpt)
    loaded = read_roster_folder(tmp_path)  # every check of the real loader, without a database
    assert loaded.election.id == ELECTION_ID
    assert len(loaded.tps) == SMALL.tps
    assert len(loaded.areas) == SMALL.provinsi + SMALL.kabko + SMALL.kecamatan + SMALL.desa
    assert loaded.operators is not None and len(loaded.operators) == SMALL.kecamatan + 2


def test_same_seed_same_bytes_other_seed_other_figures(tmp_path: Path) -> None:
    generate(tmp_path / "a", scale=SMALL, seed=7)
    generate(tmp_path / "b", scale=SMALL, seed=7)
    generate(tmp_path / "c", scale=SMALL, seed=8)
    for name in ("areas.csv", "tps.csv", "operators.csv", "candidates.csv", "election.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "tps.csv").read_bytes() != (tmp_path / "c" / "tps.csv").read_bytes()
    check_folder(tmp_path / "c", SMALL)


def test_a_slice_is_the_same_roster_cut_at_a_province(tmp_path: Path) -> None:
    generate(tmp_path / "all", scale=SMALL)
    report = generate(tmp_path / "one", scale=SMALL, provinces=1)
    whole = rows(tmp_path / "all" / "tps.csv")
    first = min(a["code"] for a in rows(tmp_path / "all" / "areas.csv"))
    assert rows(tmp_path / "one" / "tps.csv") == [t for t in whole if t["desa_code"][:2] == first]
    assert report.provinsi == 1 and report.tps == len(rows(tmp_path / "one" / "tps.csv"))
    read_roster_folder(tmp_path / "one")


def test_national_scale_in_memory() -> None:
    """The full 823,220-TPS roster: every count and total of KPU's recap (a few seconds)."""
    roster = build(NATIONAL)
    assert [roster.count(level) for level in ("provinsi", "kabko", "kecamatan", "desa")] == [
        38,
        514,
        7_277,
        83_731,
    ]
    assert len(roster.tps) == 823_220
    assert sum(t[2] for t in roster.tps) == 102_218_503
    assert sum(t[3] for t in roster.tps) == 102_588_719
    assert max(t[2] + t[3] for t in roster.tps) <= 300
    assert sum(t[2] + t[3] for t in roster.tps) == 204_807_222
    assert len({(t[0], t[1]) for t in roster.tps}) == 823_220


@given(
    st.lists(st.floats(0.01, 100.0), min_size=1, max_size=40).flatmap(
        lambda weights: st.tuples(
            st.just(weights),
            st.lists(st.integers(0, 5), min_size=len(weights), max_size=len(weights)),
            st.lists(st.integers(0, 50), min_size=len(weights), max_size=len(weights)),
        )
    ),
    st.floats(0.0, 1.0),
)
@settings(max_examples=300, deadline=None)
def test_apportion_hits_the_total_within_bounds(
    case: tuple[list[float], list[int], list[int]], where: float
) -> None:
    weights, lower, extra = case
    upper = [lo + e for lo, e in zip(lower, extra, strict=True)]
    total = sum(lower) + round(where * (sum(upper) - sum(lower)))
    result = apportion(total, weights, lower, upper)
    assert sum(result) == total
    assert all(lo <= r <= hi for lo, r, hi in zip(lower, result, upper, strict=True))


def test_apportion_is_proportional_without_bounds() -> None:
    assert apportion(100, [1.0, 1.0, 2.0], [0, 0, 0], [100] * 3) == [25, 25, 50]
    assert apportion(10, [1.0, 1.0, 1.0], [0, 0, 0], [10] * 3) == [4, 3, 3]
    assert apportion(10, [1.0, 9.0], [0, 0], [10, 5]) == [5, 5]  # the cap pushes the rest over
    with pytest.raises(ValueError, match="cannot apportion"):
        apportion(11, [1.0, 1.0], [0, 0], [5, 5])
