"""The difference report on a simulated day: exactly the differences injected into KPU's documents.

The desk's side is the simulated day's counted forms; KPU's side is what KPU would publish for the
same day (deskpemilu/simulator/kpu.py), read back through the real Sirekap parser, with known
differences injected. The report must list those and nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pytest

from deskpemilu.roster_gen import ROSTERS_DIR
from deskpemilu.simulator.kpu import candidate_list, document, election_roster, kpu_ids
from deskpemilu.simulator.plan import DayPlan, Operators, plan_day
from shared.events import OperatorRef, Role
from shared.form import CHasil, Contest
from shared.kpu.recap import RecapRow
from shared.kpu.reconcile import (
    DeskTps,
    Kind,
    KpuSnapshot,
    Tolerance,
    TpsStatus,
    ballot_ceiling,
    compare_all,
    compare_recap,
    roll_up,
)
from shared.kpu.sirekap import WIB, parse_candidate_map, parse_tps_document
from shared.roster import ElectionRoster

KPU_TS = "2024-02-16 23:00:00"
SNAPSHOT = datetime(2024, 2, 16, 23, 0, tzinfo=WIB)
BEFORE = datetime(2024, 2, 15, 20, 0, tzinfo=WIB)
AFTER = datetime(2024, 2, 17, 9, 0, tzinfo=WIB)
Found = tuple[str, Kind, str | None]
Doc = dict[str, Any]


def operators(roster: ElectionRoster) -> Operators:
    kecamatan = sorted({t.kecamatan_code for t in roster.tps.values()})
    return Operators.from_list(
        [OperatorRef(id=f"op-{k}", role=Role.OPERATOR, scope=(k,)) for k in kecamatan]
    )


@dataclass
class Day:
    roster: ElectionRoster
    contest: Contest
    plan: DayPlan
    forms: dict[str, CHasil]  # counted, by TPS
    pilkada: bool

    def documents(self) -> dict[str, Doc]:
        ids = kpu_ids(self.roster.contests[self.contest])
        return {
            tps: document(form, ids, pilkada=self.pilkada, ts=KPU_TS)
            for tps, form in self.forms.items()
        }

    def desk(self) -> dict[str, DeskTps]:
        return {
            tps: DeskTps(
                tps=tps,
                votes=form.votes_by_candidate(),
                suara_sah=form.suara_sah,
                suara_tidak_sah=form.suara_tidak_sah,
                pengguna=form.pemilih.pengguna_total.jumlah if form.pemilih else None,
            )
            for tps, form in self.forms.items()
        }

    def read_kpu(self, docs: dict[str, Doc]) -> dict[str, KpuSnapshot]:
        ids = kpu_ids(self.roster.contests[self.contest])
        mapping = parse_candidate_map(orjson.dumps(candidate_list(ids)), self.contest)
        out = {}
        for tps, doc in docs.items():
            data = parse_tps_document(orjson.dumps(doc), tps, mapping)
            assert data.kpu_ts is not None
            out[tps] = KpuSnapshot(data=data, taken_at=data.kpu_ts)
        return out

    def frame(self) -> dict[str, int]:
        return {code: t.dpt for code, t in self.roster.tps.items()}


def simulated_day(folder: str, contest: Contest, seed: int) -> Day:
    roster = election_roster(ROSTERS_DIR / folder)
    plan = plan_day(roster, operators(roster), seed=seed, contests=[contest])
    forms = {t: f for (c, t), f in plan.counted.items() if c == contest and t in roster.tps}
    return Day(roster, contest, plan, forms, pilkada=roster.kind == "pilkada")


@pytest.fixture(scope="module")
def pemilu_day() -> Day:
    return simulated_day("pemilu-2024-banyuasin", Contest.PPWP, seed=11)


@pytest.fixture(scope="module")
def pilkada_day() -> Day:
    return simulated_day("pilkada-2024-banyuasin", Contest.PILBUP, seed=12)


def counts(doc: Doc) -> Doc:
    counted: Doc = doc.get("tungsura", doc)
    return counted


def line_id(day: Day, line: str) -> str:
    return kpu_ids(day.roster.contests[day.contest])[line]


# Each injection alters KPU's document of one TPS (or the desk's side) and says what it must find.
Injection = Callable[[Day, str, dict[str, Doc], dict[str, DeskTps]], set[Found]]


def shift_a_line(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    c = counts(docs[tps])
    c["chart"][line_id(day, "c2")] += 10  # KPU read another number, and summed it
    c["administrasi"]["suara_sah"] += 10
    c["administrasi"]["suara_total"] += 10
    return {(tps, Kind.VOTES, "c2"), (tps, Kind.SUARA_SAH, None)}


def more_invalid(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    c = counts(docs[tps])
    c["administrasi"]["suara_tidak_sah"] += 3
    c["administrasi"]["suara_total"] += 3
    return {(tps, Kind.SUARA_TIDAK_SAH, None)}


def fewer_voters(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    counts(docs[tps])["administrasi"]["pengguna_total_j"] -= 5
    return {(tps, Kind.PENGGUNA, None)}


def misread_tenfold(
    day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]
) -> set[Found]:
    c = counts(docs[tps])
    line = largest_line(day, tps)
    kpu_id = line_id(day, line)
    c["chart"][kpu_id] = c["chart"][kpu_id] * 10 + 7  # 78 read as 787: the 2024 misreadings
    ceiling = ballot_ceiling(day.roster.tps[tps].dpt, day.roster.ballot_reserve_pct)
    assert c["chart"][kpu_id] > ceiling, "the simulated TPS is too small for this injection"
    return {(tps, Kind.VOTES, line), (tps, Kind.KPU_ABOVE_DPT, None),
            (tps, Kind.KPU_LINES_NOT_SAH, None)}  # fmt: skip


def largest_line(day: Day, tps: str) -> str:
    votes = day.forms[tps].votes_by_candidate()
    return max(sorted(votes), key=lambda line: votes[line])


def total_off(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    counts(docs[tps])["administrasi"]["suara_total"] += 1
    return {(tps, Kind.KPU_TOTAL_MISMATCH, None)}


def not_entered(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    doc = docs[tps]
    if "tungsura" in doc:
        doc["tungsura"] = None
    else:
        doc["chart"], doc["administrasi"] = None, None
    doc["status_suara"] = doc["status_adm"] = False
    return {(tps, Kind.MISSING_AT_KPU, None)}


def unverified(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    docs[tps]["status_suara"] = False  # numbers there, but KPU has not verified them
    counts(docs[tps])["chart"][line_id(day, "c1")] += 50  # so they must not be compared
    return {(tps, Kind.MISSING_AT_KPU, None)}


def no_document(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    del docs[tps]
    return {(tps, Kind.MISSING_AT_KPU, None)}


def desk_missing(day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]) -> set[Found]:
    del desk[tps]
    return {(tps, Kind.MISSING_AT_DESK, None)}


def psu_same_numbers(
    day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]
) -> set[Found]:
    docs[tps]["psu"] = {"tanggal": "2024-02-24"}  # a repeat vote whose result both sides have
    return set()


def corrected_after(
    day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]
) -> set[Found]:
    desk[tps] = dataclasses.replace(desk[tps], corrected_at=AFTER)
    return {(tps, Kind.DESK_CORRECTED_AFTER_KPU, None)}


def corrected_before(
    day: Day, tps: str, docs: dict[str, Doc], desk: dict[str, DeskTps]
) -> set[Found]:
    desk[tps] = dataclasses.replace(desk[tps], corrected_at=BEFORE)
    return set()


INJECTIONS: tuple[Injection, ...] = (
    shift_a_line, more_invalid, fewer_voters, misread_tenfold, total_off, not_entered,
    unverified, no_document, desk_missing, psu_same_numbers, corrected_after, corrected_before,
)  # fmt: skip


def inject(day: Day, stride: int) -> tuple[dict[str, Doc], dict[str, DeskTps], set[Found]]:
    docs, desk = copy.deepcopy(day.documents()), day.desk()
    codes = sorted(day.forms)
    expected: set[Found] = set()
    for n, injection in enumerate(INJECTIONS):
        expected |= injection(day, codes[(n + 1) * stride], docs, desk)
    stranger = "16.07.01.1016.777"  # a TPS KPU lists and the roster does not
    assert stranger not in day.roster.tps
    docs[stranger] = copy.deepcopy(docs[codes[0]])
    expected.add((stranger, Kind.NOT_IN_ROSTER, None))
    return docs, desk, expected


def found_in(report: list[Any]) -> set[Found]:
    return {(d.tps, d.kind, d.line) for item in report for d in item.differences}


@pytest.mark.parametrize("which", ["pemilu", "pilkada"])
def test_report_lists_exactly_the_injected_differences(
    which: str, pemilu_day: Day, pilkada_day: Day
) -> None:
    day = pemilu_day if which == "pemilu" else pilkada_day
    assert len(day.forms) == len(day.roster.tps) == {"pemilu": 2_564, "pilkada": 1_389}[which]
    docs, desk, expected = inject(day, stride=97)
    report = compare_all(
        day.frame(), desk, day.read_kpu(docs), reserve_pct=day.roster.ballot_reserve_pct
    )
    assert found_in(report) == expected
    by_status: dict[TpsStatus, int] = {}
    for item in report:
        by_status[item.status] = by_status.get(item.status, 0) + 1
    assert by_status == {
        TpsStatus.MATCHING: len(day.forms) - 10,  # 12 injections; PSU, corrected before: none
        TpsStatus.DIFFERING: 6,  # line, tidak sah, pengguna, tenfold, total, corrected after
        TpsStatus.MISSING_AT_KPU: 3,
        TpsStatus.MISSING_AT_DESK: 1,
        TpsStatus.NOT_IN_ROSTER: 1,
    }


def test_an_untouched_day_has_no_difference(pemilu_day: Day) -> None:
    report = compare_all(
        pemilu_day.frame(),
        pemilu_day.desk(),
        pemilu_day.read_kpu(pemilu_day.documents()),
        reserve_pct=2.0,
    )
    assert found_in(report) == set()
    assert all(item.status is TpsStatus.MATCHING for item in report)


def test_roll_up_per_desa_and_kecamatan(pemilu_day: Day) -> None:
    day = pemilu_day
    docs, desk, _ = inject(day, stride=97)
    report = compare_all(day.frame(), desk, day.read_kpu(docs), reserve_pct=2.0)
    kecamatan = roll_up(report, 3)
    desa = roll_up(report, 4)
    assert len(kecamatan) == 21
    assert len(desa) == 313
    for rollups in (kecamatan, desa):
        total = sum(r.tps_total for r in rollups.values())
        assert total == 2_564
        assert sum(r.compared for r in rollups.values()) == 2_564 - 4  # 3 missing at KPU, 1 desk
        assert sum(r.differing for r in rollups.values()) == 6
        assert sum(r.missing_at_kpu for r in rollups.values()) == 3
        assert sum(r.missing_at_desk for r in rollups.values()) == 1
        assert sum(r.not_in_roster for r in rollups.values()) == 1
        assert sum(r.kpu_inconsistent for r in rollups.values()) == 2  # tenfold, total off
        for r in rollups.values():
            assert r.compared == r.matching + r.differing
    # Net KPU - desk per kecamatan: +10 on c2 where the line was shifted, the tenfold misread
    # where it was misread, zero everywhere else.
    codes = sorted(day.forms)
    shifted_tps, tenfold_tps = codes[97], codes[4 * 97]
    misread = largest_line(day, tenfold_tps)
    expected: dict[str, dict[str, int]] = {k: {"c1": 0, "c2": 0, "c3": 0} for k in kecamatan}
    expected[shifted_tps[:8]]["c2"] += 10
    expected[tenfold_tps[:8]][misread] += (
        day.forms[tenfold_tps].votes_by_candidate()[misread] * 9 + 7
    )
    assert {k: r.net_difference for k, r in kecamatan.items()} == expected


def test_tolerance_hides_small_differences_only(pemilu_day: Day) -> None:
    day = pemilu_day
    tps = sorted(day.forms)[5]
    docs = day.documents()
    c = counts(docs[tps])
    c["chart"][line_id(day, "c1")] += 2
    c["administrasi"]["suara_sah"] += 2
    c["administrasi"]["suara_total"] += 2
    c["administrasi"]["pengguna_total_j"] += 2
    kpu = day.read_kpu(docs)
    strict = compare_all(day.frame(), day.desk(), kpu, reserve_pct=2.0)
    assert found_in(strict) == {(tps, Kind.VOTES, "c1"), (tps, Kind.SUARA_SAH, None),
                                (tps, Kind.PENGGUNA, None)}  # fmt: skip
    loose = compare_all(
        day.frame(), day.desk(), kpu, reserve_pct=2.0,
        tolerance=Tolerance(votes=2, suara_sah=2, pengguna=2),
    )  # fmt: skip
    assert found_in(loose) == set()
    just_under = compare_all(
        day.frame(), day.desk(), kpu, reserve_pct=2.0,
        tolerance=Tolerance(votes=1, suara_sah=2, pengguna=2),
    )  # fmt: skip
    assert found_in(just_under) == {(tps, Kind.VOTES, "c1")}


def test_ballot_ceiling_is_dpt_plus_reserve() -> None:
    assert ballot_ceiling(300, 2.0) == 306
    assert ballot_ceiling(250, 2.0) == 255
    assert ballot_ceiling(600, 2.5) == 615
    assert ballot_ceiling(101, 2.0) == 104  # 103.02 ballots round up


def test_recap_per_desa_against_the_desks_sums(pemilu_day: Day) -> None:
    day = pemilu_day
    desk = day.desk()
    desa = "16.07.01.1016"
    in_desa = [t for t in sorted(desk) if t.startswith(desa + ".")]
    votes: dict[str, int] = {}
    for t in in_desa:
        for line, n in desk[t].votes.items():
            votes[line] = votes.get(line, 0) + n
    sah = sum(desk[t].suara_sah for t in in_desa)
    tidak_sah = sum(desk[t].suara_tidak_sah for t in in_desa)
    pengguna = sum(desk[t].pengguna or 0 for t in in_desa)
    exact = RecapRow(desa, votes, sah, tidak_sah, pengguna, None)
    other = "16.07.01.1021"
    off = RecapRow(other, {"c1": 5}, None, None, None, None)  # only c1 given, and wrong
    report = {r.area: r for r in compare_recap(day.frame(), desk, {desa: exact, other: off})}
    assert report[desa].differences == ()
    assert report[desa].complete and report[desa].desk_tps == len(in_desa) == 28
    found = {(d.kind, d.line) for d in report[other].differences}
    # Lines the recap does not give are differences too (one side only); sah etc. not given: none.
    assert found == {(Kind.VOTES, "c1"), (Kind.VOTES, "c2"), (Kind.VOTES, "c3")}
    c1 = next(d for d in report[other].differences if d.line == "c1")
    assert c1.kpu == 5 and c1.desk == report[other].desk_votes["c1"]

    shifted = RecapRow(desa, {**votes, "c2": votes["c2"] + 3}, sah + 3, tidak_sah, pengguna, None)
    missing_one = dict(desk)
    del missing_one[in_desa[0]]
    again = compare_recap(day.frame(), missing_one, {desa: shifted})[0]
    assert not again.complete and again.desk_tps == 27
    assert {d.kind for d in again.differences} >= {Kind.VOTES, Kind.SUARA_SAH}
    loose = compare_recap(
        day.frame(), desk, {desa: shifted}, tolerance=Tolerance(votes=3, suara_sah=3)
    )
    assert loose[0].differences == ()
