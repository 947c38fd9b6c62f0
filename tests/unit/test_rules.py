"""Validation rules: consistent forms pass; each single corruption is caught by its own rule."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.validator.rules import (
    FORM_RULES,
    RULES,
    check_form,
    check_scope,
    form_context,
    form_is_clean,
    has_errors,
    reserve_ballots,
    rules_markdown,
    validate_submission,
)
from shared.events import OperatorRef, Role, Severity, SubmissionReceived, Violation
from shared.form import LP, CHasil, Contest, DataPemilih, SuaraPartai, SuratSuara
from shared.roster import ContestInfo, ElectionRoster, TpsInfo
from tests.unit.strategies import (
    CANDIDATE_CONTESTS,
    MAX_NUDGE,
    PARTY_CONTESTS,
    consistent_forms,
    operators_in_scope,
    rosters,
    submissions,
)

ROOT = Path(__file__).resolve().parents[2]
PROPERTY = settings(max_examples=30, deadline=None)


def _errors(violations: list[Violation]) -> set[str]:
    return {v.code for v in violations if v.severity is Severity.ERROR}


def _warnings(violations: list[Violation]) -> set[str]:
    return {v.code for v in violations if v.severity is Severity.WARNING}


# --- consistent forms ------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_consistent_submission_has_no_violation(data: st.DataObject) -> None:
    roster = data.draw(rosters())
    sub = data.draw(submissions(roster))
    assert validate_submission(sub, roster) == []


@PROPERTY
@given(data=st.data())
def test_consistent_party_list_form_has_no_violation(data: st.DataObject) -> None:
    roster = data.draw(rosters(party_list=True))
    contest = data.draw(st.sampled_from([c for c in roster.contests if c.is_party_list]))
    form = data.draw(consistent_forms(roster, contest=contest, pemilih=True, surat_suara=True))
    assert check_form(form, roster) == []


@PROPERTY
@given(data=st.data())
def test_unknown_election_is_one_error(data: st.DataObject) -> None:
    roster = data.draw(rosters())
    sub = data.draw(submissions(roster))
    other = dataclasses.replace(roster, election_id="pemilu-1999")
    for violations in (validate_submission(sub, None), validate_submission(sub, other)):
        assert [v.code for v in violations] == ["ELECTION_UNKNOWN"]
        assert has_errors(violations)


# --- single corruptions ----------------------------------------------------------------------


@dataclass
class Case:
    """A corrupted form with the error and warning codes it must produce, exactly."""

    form: CHasil
    errors: set[str]
    warnings: set[str] = field(default_factory=set)
    roster: ElectionRoster = field(kw_only=True)
    operator: OperatorRef | None = None  # None: an operator in scope
    may_also_warn: set[str] = field(default_factory=set)


Corruption = Callable[[st.DataObject], Case]
CORRUPTIONS: dict[str, Corruption] = {}


def corruption(fn: Corruption) -> Corruption:
    CORRUPTIONS[fn.__name__] = fn
    return fn


def _nudge(data: st.DataObject) -> int:
    return data.draw(st.integers(1, MAX_NUDGE), label="nudge")


def _contest(data: st.DataObject, roster: ElectionRoster, *, party_list: bool) -> Contest:
    choices = [c for c in roster.contests if c.is_party_list == party_list]
    assume(choices)
    return data.draw(st.sampled_from(sorted(choices)), label="contest")


def _pemilih(form: CHasil) -> DataPemilih:
    assert form.pemilih is not None
    return form.pemilih


def _surat(form: CHasil) -> SuratSuara:
    assert form.surat_suara is not None
    return form.surat_suara


def _calon(form: CHasil) -> dict[int, int]:
    assert form.suara_calon is not None
    return form.suara_calon


def _partai(form: CHasil) -> list[SuaraPartai]:
    assert form.suara_partai is not None
    return form.suara_partai


def _with_row(form: CHasil, row: str, new: LP) -> CHasil:
    if row == "disabilitas":
        return form.model_copy(update={"disabilitas": new})
    return form.model_copy(update={"pemilih": _pemilih(form).model_copy(update={row: new})})


def _row(form: CHasil, row: str) -> LP:
    if row == "disabilitas":
        assert form.disabilitas is not None
        return form.disabilitas
    value: LP = getattr(_pemilih(form), row)
    return value


B_ROWS = ("pengguna_dpt", "pengguna_dptb", "pengguna_dpk", "pengguna_total")


@corruption
def change_one_l(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, pemilih=True, disabilitas=True))
    row = data.draw(st.sampled_from(["dpt", *B_ROWS, "disabilitas"]))
    old, d = _row(form, row), _nudge(data)
    new = old.model_copy(update={"l": old.l - d if old.l >= d else old.l + d})
    errors = {"LP_SUM", "PEMILIH_TOTAL"} if row in B_ROWS else {"LP_SUM"}
    warnings = {"DPT_MISMATCH"} if row == "dpt" else set()
    return Case(_with_row(form, row, new), errors, warnings, roster=roster)


@corruption
def change_b4_columns(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    # L up and P down by the same amount: the row still adds up, the columns do not.
    form = data.draw(consistent_forms(roster, pemilih=True))
    b4 = _pemilih(form).pengguna_total
    d = min(_nudge(data), max(b4.l, b4.p))
    assume(d >= 1)
    l, p = (b4.l + d, b4.p - d) if b4.p >= d else (b4.l - d, b4.p + d)  # noqa: E741
    return Case(
        _with_row(form, "pengguna_total", LP(l=l, p=p, jumlah=b4.jumlah)),
        {"PEMILIH_TOTAL"},
        roster=roster,
    )


@corruption
def change_paslon_vote(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, contest=_contest(data, roster, party_list=False)))
    calon = _calon(form)
    no = data.draw(st.sampled_from(sorted(calon)))
    changed = {**calon, no: calon[no] + _nudge(data)}
    return Case(form.model_copy(update={"suara_calon": changed}), {"SAH_SUM"}, roster=roster)


def _with_party(form: CHasil, no: int, **update: object) -> CHasil:
    parties = [p.model_copy(update=update) if p.nomor_partai == no else p for p in _partai(form)]
    return form.model_copy(update={"suara_partai": parties})


@corruption
def change_party_line(data: st.DataObject) -> Case:
    roster = data.draw(rosters(party_list=True), label="roster")
    form = data.draw(consistent_forms(roster, contest=_contest(data, roster, party_list=True)))
    party = data.draw(st.sampled_from(_partai(form)))
    d = _nudge(data)
    line = data.draw(st.sampled_from([0, *sorted(party.suara_calon)]))  # 0: the party's A.1
    if line == 0:
        changed = _with_party(form, party.nomor_partai, suara_partai=party.suara_partai + d)
    else:
        calon = {**party.suara_calon, line: party.suara_calon[line] + d}
        changed = _with_party(form, party.nomor_partai, suara_calon=calon)
    return Case(changed, {"PARTY_SUM"}, roster=roster)


@corruption
def change_party_total(data: st.DataObject) -> Case:
    roster = data.draw(rosters(party_list=True), label="roster")
    form = data.draw(consistent_forms(roster, contest=_contest(data, roster, party_list=True)))
    party = data.draw(st.sampled_from(_partai(form)))
    changed = _with_party(form, party.nomor_partai, jumlah=party.jumlah + _nudge(data))
    return Case(changed, {"PARTY_SUM", "SAH_SUM"}, roster=roster)


@corruption
def change_tidak_sah(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    # V.B feeds V.C, I.B.4 and II.2: each section present must catch it.
    present = data.draw(st.sets(st.sampled_from(["pemilih", "surat", "jumlah"]), min_size=1))
    form = data.draw(
        consistent_forms(
            roster,
            pemilih="pemilih" in present,
            surat_suara="surat" in present,
            jumlah_suara="jumlah" in present,
        )
    )
    changed = form.model_copy(update={"suara_tidak_sah": form.suara_tidak_sah + _nudge(data)})
    by_section = {
        "pemilih": "PENGGUNA_VS_SUARA",
        "surat": "SURAT_DIGUNAKAN",
        "jumlah": "JUMLAH_SUARA",
    }
    return Case(changed, {by_section[s] for s in present}, roster=roster)


@corruption
def move_votes_between_sah_and_tidak_sah(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster))
    d = _nudge(data)
    if form.suara_tidak_sah >= d:
        sah, tidak_sah = form.suara_sah + d, form.suara_tidak_sah - d
    else:
        assume(form.suara_sah >= d)
        sah, tidak_sah = form.suara_sah - d, form.suara_tidak_sah + d
    changed = form.model_copy(update={"suara_sah": sah, "suara_tidak_sah": tidak_sah})
    return Case(changed, {"SAH_SUM"}, roster=roster)


@corruption
def change_jumlah_suara(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, jumlah_suara=True))
    assert form.jumlah_suara is not None
    d = _nudge(data)
    c = form.jumlah_suara - d if form.jumlah_suara >= d else form.jumlah_suara + d
    return Case(form.model_copy(update={"jumlah_suara": c}), {"JUMLAH_SUARA"}, roster=roster)


def _with_surat(form: CHasil, **update: int) -> CHasil:
    return form.model_copy(update={"surat_suara": _surat(form).model_copy(update=update)})


@corruption
def change_ballots_received(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, surat_suara=True))
    reserve = reserve_ballots(roster.tps[form.tps].dpt, roster.ballot_reserve_pct)
    d = data.draw(st.integers(1, min(MAX_NUDGE, reserve)))  # within the reserve: no warning
    return Case(
        _with_surat(form, diterima=_surat(form).diterima + d), {"SURAT_BALANCE"}, roster=roster
    )


@corruption
def change_ballots_used(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, surat_suara=True))
    changed = _with_surat(form, digunakan=_surat(form).digunakan + _nudge(data))
    return Case(changed, {"SURAT_DIGUNAKAN", "SURAT_BALANCE"}, roster=roster)


@corruption
def ballots_received_far_from_reserve(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, surat_suara=True))
    reserve = reserve_ballots(roster.tps[form.tps].dpt, roster.ballot_reserve_pct)
    extra = reserve + data.draw(st.integers(1, 20))
    surat = _surat(form)
    changed = _with_surat(form, diterima=surat.diterima + extra, sisa=surat.sisa + extra)
    return Case(changed, set(), {"SURAT_RESERVE"}, roster=roster)


@corruption
def form_dpt_differs_from_roster(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, pemilih=True))
    dpt, d = _pemilih(form).dpt, _nudge(data)
    changed = _with_row(form, "dpt", LP(l=dpt.l + d, p=dpt.p, jumlah=dpt.jumlah + d))
    return Case(changed, set(), {"DPT_MISMATCH"}, roster=roster)


@corruption
def disabilitas_above_voters(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster, disabilitas=True))
    if form.pemilih is not None:
        voters = form.pemilih.pengguna_total.jumlah
    else:
        voters = form.suara_sah + form.suara_tidak_sah
    jumlah = voters + data.draw(st.integers(1, 20))
    changed = _with_row(form, "disabilitas", LP(l=jumlah, p=0, jumlah=jumlah))
    return Case(changed, set(), {"DISABILITAS_ABOVE_PENGGUNA"}, roster=roster)


@corruption
def unknown_paslon_number(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    contest = _contest(data, roster, party_list=False)
    form = data.draw(consistent_forms(roster, contest=contest))
    no = data.draw(
        st.integers(1, 999).filter(lambda n: n not in roster.contests[contest].candidates)
    )
    changed = form.model_copy(update={"suara_calon": {**_calon(form), no: 0}})
    return Case(changed, {"CANDIDATE_UNKNOWN"}, roster=roster)


@corruption
def unknown_party_number(data: st.DataObject) -> Case:
    roster = data.draw(rosters(party_list=True), label="roster")
    contest = _contest(data, roster, party_list=True)
    form = data.draw(consistent_forms(roster, contest=contest))
    no = data.draw(st.integers(1, 999).filter(lambda n: n not in roster.contests[contest].parties))
    extra = SuaraPartai(nomor_partai=no, suara_partai=0, suara_calon={1: 0}, jumlah=0)
    changed = form.model_copy(update={"suara_partai": [*_partai(form), extra]})
    return Case(changed, {"PARTY_UNKNOWN"}, roster=roster)


@corruption
def unknown_party_candidate(data: st.DataObject) -> Case:
    roster = data.draw(rosters(party_list=True), label="roster")
    contest = _contest(data, roster, party_list=True)
    form = data.draw(consistent_forms(roster, contest=contest))
    party = data.draw(st.sampled_from(_partai(form)))
    listed = roster.contests[contest].parties[party.nomor_partai]
    no = data.draw(st.integers(1, 999).filter(lambda n: n not in listed))
    changed = _with_party(form, party.nomor_partai, suara_calon={**party.suara_calon, no: 0})
    return Case(changed, {"PARTY_CANDIDATE_UNKNOWN"}, roster=roster)


@corruption
def unknown_tps(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster))
    desa = form.tps.rsplit(".", 1)[0]
    number = data.draw(
        st.integers(1, 999).filter(lambda n: f"{desa}.{n:03d}" not in roster.tps), label="number"
    )
    return Case(
        form.model_copy(update={"tps": f"{desa}.{number:03d}"}), {"TPS_UNKNOWN"}, roster=roster
    )


@corruption
def contest_not_in_election(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster))
    same_kind = (
        PARTY_CONTESTS
        if form.contest.is_party_list
        else (*CANDIDATE_CONTESTS["pemilu"], *CANDIDATE_CONTESTS["pilkada"])
    )
    other = data.draw(st.sampled_from([c for c in same_kind if c not in roster.contests]))
    return Case(form.model_copy(update={"contest": other}), {"CONTEST_UNKNOWN"}, roster=roster)


@corruption
def box_above_999(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    # Add 1000 where the form's arithmetic stays whole, so that only the box range is broken.
    form = data.draw(consistent_forms(roster, pemilih=True, surat_suara=True, disabilitas=True))
    where = data.draw(st.sampled_from(["disabilitas", "dpt", "surat"]))
    if where == "surat":
        surat = _surat(form)
        changed = _with_surat(form, diterima=surat.diterima + 1000, sisa=surat.sisa + 1000)
        return Case(changed, {"BOX_RANGE"}, {"SURAT_RESERVE"}, roster=roster)
    row = _row(form, where)
    bigger = LP(l=row.l + 1000, p=row.p, jumlah=row.jumlah + 1000)
    warning = "DISABILITAS_ABOVE_PENGGUNA" if where == "disabilitas" else "DPT_MISMATCH"
    return Case(_with_row(form, where, bigger), {"BOX_RANGE"}, {warning}, roster=roster)


def _tps_prefix_traps(tps: str) -> list[str]:
    """Area codes that are string prefixes of the TPS code but not on a dot boundary."""
    return [tps[:7], tps[:12], tps[:-1], "16.07.22"]


@corruption
def operator_out_of_scope(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster))
    role = data.draw(st.sampled_from([Role.OPERATOR, Role.CAMAT, Role.ADMIN]))
    scope = data.draw(st.lists(st.sampled_from(_tps_prefix_traps(form.tps)), min_size=1))
    return Case(
        form,
        {"SCOPE_OUTSIDE"},
        operator=OperatorRef(id="x", role=role, scope=tuple(scope)),
        roster=roster,
    )


@corruption
def viewer_submits(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster))
    operator = data.draw(operators_in_scope(form.tps)).model_copy(update={"role": Role.VIEWER})
    return Case(form, {"ROLE_CANNOT_SUBMIT"}, operator=operator, roster=roster)


@corruption
def paslon_line_left_out(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    contest = _contest(data, roster, party_list=False)
    assume(len(roster.contests[contest].candidates) >= 2)
    form = data.draw(consistent_forms(roster, contest=contest))
    calon = dict(_calon(form))
    dropped, receiver = data.draw(st.permutations(sorted(calon)))[:2]
    calon[receiver] += calon.pop(dropped)  # votes stay whole, the line is gone
    changed = form.model_copy(update={"suara_calon": calon})
    # Folding votes together can leave one line with every vote.
    return Case(
        changed, set(), {"CANDIDATE_MISSING"}, may_also_warn={"ANOMALY_UNANIMOUS"}, roster=roster
    )


@corruption
def party_left_out(data: st.DataObject) -> Case:
    roster = data.draw(rosters(party_list=True), label="roster")
    contest = _contest(data, roster, party_list=True)
    assume(len(roster.contests[contest].parties) >= 2)
    form = data.draw(consistent_forms(roster, contest=contest))
    by_no = {p.nomor_partai: p for p in _partai(form)}
    dropped, receiver = data.draw(st.permutations(sorted(by_no)))[:2]
    gone, kept = by_no.pop(dropped), by_no[receiver]
    by_no[receiver] = kept.model_copy(
        update={
            "suara_partai": kept.suara_partai + gone.jumlah,
            "jumlah": kept.jumlah + gone.jumlah,
        }
    )
    changed = form.model_copy(update={"suara_partai": list(by_no.values())})
    return Case(
        changed, set(), {"PARTY_MISSING"}, may_also_warn={"ANOMALY_UNANIMOUS"}, roster=roster
    )


@corruption
def roster_tps_above_cap(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form = data.draw(consistent_forms(roster))
    capped = dataclasses.replace(roster, max_dpt_per_tps=roster.tps[form.tps].dpt - 1)
    return Case(form, {"TPS_CAP"}, roster=capped)


def _add_votes(form: CHasil, extra: list[int]) -> CHasil:
    """Spread extra valid votes over the vote lines, keeping V.A and V.C whole."""
    if form.suara_calon is not None:
        lines = {no: v + e for (no, v), e in zip(form.suara_calon.items(), extra, strict=True)}
        update: dict[str, object] = {"suara_calon": lines}
    else:
        update = {
            "suara_partai": [
                p.model_copy(update={"suara_partai": p.suara_partai + e, "jumlah": p.jumlah + e})
                for p, e in zip(_partai(form), extra, strict=True)
            ]
        }
    added = sum(extra)
    jumlah = None if form.jumlah_suara is None else form.jumlah_suara + added
    return form.model_copy(
        update={**update, "suara_sah": form.suara_sah + added, "jumlah_suara": jumlah}
    )


def _votes_only(data: st.DataObject, roster: ElectionRoster) -> tuple[CHasil, int]:
    form = data.draw(consistent_forms(roster, pemilih=False, surat_suara=False))
    return form, len(form.suara_calon or form.suara_partai or ())


@corruption
def votes_above_dpt_without_section_i(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form, lines = _votes_only(data, roster)
    dpt = roster.tps[form.tps].dpt
    limit = dpt + reserve_ballots(dpt, roster.ballot_reserve_pct)
    need = limit + 1 - (form.suara_sah + form.suara_tidak_sah)
    # The same on every line keeps two or more lines with votes (no unanimity warning).
    return Case(_add_votes(form, [-(-need // lines)] * lines), {"VOTES_ABOVE_DPT"}, roster=roster)


@corruption
def turnout_above_95_percent(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form, lines = _votes_only(data, roster)
    dpt = roster.tps[form.tps].dpt
    assume(dpt >= 50)
    limit = dpt + reserve_ballots(dpt, roster.ballot_reserve_pct)
    target = data.draw(st.integers(dpt * 95 // 100 + 1, limit))
    need = target - form.suara_sah - form.suara_tidak_sah
    rest = need - lines
    extra = [1 + rest // lines + (1 if i < rest % lines else 0) for i in range(lines)]
    return Case(_add_votes(form, extra), set(), {"ANOMALY_HIGH_TURNOUT"}, roster=roster)


@corruption
def one_line_takes_every_vote(data: st.DataObject) -> Case:
    roster = data.draw(rosters(), label="roster")
    form, lines = _votes_only(data, roster)
    assume(lines >= 2)
    dpt = roster.tps[form.tps].dpt
    top = dpt * 85 // 100 - form.suara_tidak_sah
    assume(top >= 50)
    votes = data.draw(st.integers(50, top))
    if form.suara_calon is not None:
        winner = data.draw(st.sampled_from(sorted(form.suara_calon)))
        update: dict[str, object] = {
            "suara_calon": {no: votes if no == winner else 0 for no in form.suara_calon}
        }
    else:
        winner = data.draw(st.sampled_from([p.nomor_partai for p in _partai(form)]))
        update = {
            "suara_partai": [
                SuaraPartai(
                    nomor_partai=p.nomor_partai,
                    suara_partai=votes if p.nomor_partai == winner else 0,
                    suara_calon=dict.fromkeys(p.suara_calon, 0),
                    jumlah=votes if p.nomor_partai == winner else 0,
                )
                for p in _partai(form)
            ]
        }
    changed = form.model_copy(
        update={**update, "suara_sah": votes, "jumlah_suara": None, "disabilitas": None}
    )
    return Case(changed, set(), {"ANOMALY_UNANIMOUS"}, roster=roster)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@PROPERTY
@given(data=st.data())
def test_single_corruption_is_caught_by_its_rule(name: str, data: st.DataObject) -> None:
    case = CORRUPTIONS[name](data)
    roster = case.roster
    operator = case.operator or data.draw(operators_in_scope(case.form.tps))
    sub = data.draw(submissions(roster, case.form)).model_copy(update={"operator": operator})
    violations = validate_submission(sub, roster)
    assert _errors(violations) == case.errors, violations
    warnings = _warnings(violations)
    assert case.warnings <= warnings, violations
    assert warnings - case.warnings <= case.may_also_warn, violations
    assert has_errors(violations) == bool(case.errors)


# --- the fast route ----------------------------------------------------------------------------


def _every_rule(form: CHasil, roster: ElectionRoster | None) -> list[Violation]:
    """What FORM_RULES report one by one, without check_form's fast route."""
    ctx = form_context(form, roster)
    return [v for rule in FORM_RULES for v in rule(form, ctx)]


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@PROPERTY
@given(data=st.data())
def test_the_fast_route_never_passes_a_corrupted_form(name: str, data: st.DataObject) -> None:
    case = CORRUPTIONS[name](data)
    expected = _every_rule(case.form, case.roster)
    assert check_form(case.form, case.roster) == expected
    if form_is_clean(case.form, case.roster):
        assert expected == []


# form_is_clean restates every rule's condition. A rule added to FORM_RULES must be added there
# too (and to CORRUPTIONS above): this list makes that a conscious step, not a silent skip.
FAST_ROUTE_COVERS = {
    "_election_known", "_tps_known", "_contest_known", "_candidates_known", "_parties_known",
    "_candidates_present", "_tps_cap", "_box_range", "_lp_sum", "_pemilih_total", "_sah_sum",
    "_party_sum", "_jumlah_suara", "_pengguna_vs_suara", "_surat_digunakan", "_surat_balance",
    "_pengguna_dpt_above_dpt", "_votes_above_dpt", "_surat_reserve", "_dpt_mismatch",
    "_disabilitas_above_pengguna", "_high_turnout", "_unanimous",
}  # fmt: skip


def test_the_fast_route_restates_exactly_the_rules_of_form_rules() -> None:
    assert {rule.__name__ for rule in FORM_RULES} == FAST_ROUTE_COVERS


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_fast_route_agrees_with_the_rules_on_consistent_forms(data: st.DataObject) -> None:
    roster = data.draw(rosters(party_list=data.draw(st.booleans())))
    form = data.draw(consistent_forms(roster))
    expected = _every_rule(form, roster)
    assert check_form(form, roster) == expected
    if form_is_clean(form, roster):
        assert expected == []


# --- examples with the messages --------------------------------------------------------------

TPS = "16.07.01.1016.001"
ROSTER = ElectionRoster(
    election_id="pemilu-2024",
    kind="pemilu",
    max_dpt_per_tps=300,
    ballot_reserve_pct=2.0,
    tps={
        TPS: TpsInfo(code=TPS, number=1, dpt_l=150, dpt_p=140),
        "16.07.01.1016.002": TpsInfo(code="16.07.01.1016.002", number=2, dpt_l=170, dpt_p=180),
    },
    contests={
        Contest.PPWP: ContestInfo(Contest.PPWP, candidates=frozenset({1, 2, 3})),
        Contest.DPR: ContestInfo(Contest.DPR, parties={1: frozenset({1, 2}), 2: frozenset({1})}),
    },
)


def _lp(l: int, p: int) -> LP:  # noqa: E741
    return LP(l=l, p=p, jumlah=l + p)


def ppwp_form(**update: object) -> CHasil:
    """A full, consistent PPWP form of TPS 001 (DPT 290, 250 votes cast)."""
    form = CHasil(
        election="pemilu-2024",
        contest=Contest.PPWP,
        tps=TPS,
        pemilih=DataPemilih(
            dpt=_lp(150, 140),
            pengguna_dpt=_lp(120, 122),
            pengguna_dptb=_lp(3, 2),
            pengguna_dpk=_lp(2, 1),
            pengguna_total=_lp(125, 125),
        ),
        surat_suara=SuratSuara(diterima=296, digunakan=250, rusak=2, sisa=44),
        disabilitas=_lp(2, 1),
        suara_calon={1: 80, 2: 120, 3: 45},
        suara_sah=245,
        suara_tidak_sah=5,
        jumlah_suara=250,
    )
    return form.model_copy(update=update)


def _only(violations: list[Violation], code: str) -> Violation:
    found = [v for v in violations if v.code == code]
    assert len(found) == 1, violations
    return found[0]


def test_example_form_is_consistent() -> None:
    assert check_form(ppwp_form(), ROSTER) == []
    assert form_is_clean(ppwp_form(), ROSTER)  # and takes the fast route


def test_sah_sum_message_names_both_numbers() -> None:
    form = ppwp_form(suara_calon={1: 80, 2: 120, 3: 40}, suara_sah=245)
    (v,) = check_form(form, ROSTER)
    assert v.code == "SAH_SUM"
    assert v.severity is Severity.ERROR
    assert v.field == "suara_sah"
    assert v.pesan == "Jumlah suara sah (V.A) 245 tidak sama dengan jumlah suara paslon 240"
    assert (
        v.message
        == "Total valid votes (V.A) 245 does not equal the sum of candidate pair votes 240"
    )


def test_lp_sum_names_the_row() -> None:
    pemilih = ppwp_form().pemilih
    assert pemilih is not None
    form = ppwp_form(pemilih=pemilih.model_copy(update={"dpt": LP(l=150, p=140, jumlah=280)}))
    violations = check_form(form, ROSTER)
    lp = _only(violations, "LP_SUM")
    assert lp.field == "pemilih.dpt.jumlah"
    assert lp.pesan == "I.A DPT: L 150 + P 140 = 290, tetapi L+P tertulis 280"
    assert {v.code for v in violations} == {"LP_SUM", "DPT_MISMATCH"}


def test_box_range_reports_each_box_with_its_path() -> None:
    form = ppwp_form(suara_calon={1: 80, 2: 1120, 3: 45}, suara_sah=1245, jumlah_suara=1250)
    violations = check_form(form, ROSTER)
    boxes = [v for v in violations if v.code == "BOX_RANGE"]
    assert [v.field for v in boxes] == ["suara_calon.2", "suara_sah", "jumlah_suara"]
    assert (
        boxes[0].pesan
        == "IV suara nomor urut 2 bernilai 1120, melebihi 999 (setiap isian hanya 3 kotak angka)"
    )
    assert (
        boxes[1].message
        == "V.A valid votes is 1245, above 999 (every number has only 3 digit boxes)"
    )
    # The slip also breaks the vote arithmetic, and each broken rule is reported.
    assert {"PENGGUNA_VS_SUARA", "SURAT_DIGUNAKAN"} <= _errors(violations)


def sirekap_form() -> CHasil:
    """214 read as 713 (DOMAIN.md) on a form with votes only."""
    return ppwp_form(
        pemilih=None,
        surat_suara=None,
        disabilitas=None,
        suara_calon={1: 713, 2: 20, 3: 12},
        suara_sah=745,
        jumlah_suara=750,
    )


def test_sirekap_like_misreading_on_a_votes_only_form() -> None:
    # A votes-only form cannot carry more votes than DPT + reserve ballots.
    (v,) = check_form(sirekap_form(), ROSTER)
    assert v.code == "VOTES_ABOVE_DPT"
    assert v.pesan == (
        "Suara sah dan tidak sah 750 melebihi DPT 290 + cadangan surat suara 6 = 296; "
        "kirim bagian I jika ada pemilih DPTb/DPK"
    )


def above_dpt_form() -> CHasil:
    """291 voters from the DPT of a TPS whose DPT is 290, all else consistent."""
    return ppwp_form(
        pemilih=DataPemilih(
            dpt=_lp(150, 140),
            pengguna_dpt=_lp(150, 141),
            pengguna_dptb=_lp(0, 0),
            pengguna_dpk=_lp(0, 0),
            pengguna_total=_lp(150, 141),
        ),
        surat_suara=SuratSuara(diterima=296, digunakan=291, rusak=0, sisa=5),
        suara_calon={1: 100, 2: 100, 3: 86},
        suara_sah=286,
        jumlah_suara=291,
    )


def test_voters_from_dpt_above_dpt() -> None:
    violations = check_form(above_dpt_form(), ROSTER)
    assert _errors(violations) == {"PENGGUNA_DPT_ABOVE_DPT"}
    assert _only(violations, "PENGGUNA_DPT_ABOVE_DPT").pesan == (
        "Pengguna hak pilih dalam DPT (I.B.1) 291 melebihi DPT 290"
    )
    assert _warnings(violations) == {"ANOMALY_HIGH_TURNOUT"}
    assert _only(violations, "ANOMALY_HIGH_TURNOUT").message == (
        "Very high turnout: 291 votes for a DPT of 290 (100.3%)"
    )


def party_form() -> CHasil:
    """A DPR form with an unknown party, an unknown candidate, a missing party, a bad B."""
    return CHasil(
        election="pemilu-2024",
        contest=Contest.DPR,
        tps=TPS,
        suara_partai=[
            SuaraPartai(nomor_partai=1, suara_partai=10, suara_calon={1: 5, 3: 2}, jumlah=18),
            SuaraPartai(nomor_partai=7, suara_partai=1, suara_calon={}, jumlah=1),
        ],
        suara_sah=19,
        suara_tidak_sah=0,
    )


def test_party_list_form_messages() -> None:
    violations = check_form(party_form(), ROSTER)
    assert [v.code for v in violations] == [
        "PARTY_CANDIDATE_UNKNOWN",
        "PARTY_UNKNOWN",
        "PARTY_MISSING",
        "PARTY_SUM",
    ]
    assert violations[0].field == "suara_partai.1.suara_calon.3"
    assert violations[0].pesan == "Calon nomor 3 tidak ada dalam daftar calon partai 1 (DPR)"
    assert violations[1].message == "Party no. 7 is not in the DPR roster"
    assert (
        violations[2].pesan
        == "Partai nomor 2 ada di daftar DPR tetapi tidak tercantum pada formulir"
    )
    assert violations[3].pesan == (
        "Partai 1: suara partai 10 + suara calon 7 = 17, tetapi jumlah (B) tertulis 18"
    )


def test_missing_paslon_is_a_warning_and_unknown_one_an_error() -> None:
    form = ppwp_form(suara_calon={1: 80, 2: 120, 4: 45})
    violations = check_form(form, ROSTER)
    assert [(v.code, v.severity) for v in violations] == [
        ("CANDIDATE_UNKNOWN", Severity.ERROR),
        ("CANDIDATE_MISSING", Severity.WARNING),
    ]
    assert violations[0].pesan == "Nomor urut 4 tidak ada dalam daftar paslon PPWP"
    assert (
        violations[1].message
        == "No. 3 (candidate pair) is in the PPWP roster but missing from the form"
    )


def unanimous_form() -> CHasil:
    """Every valid vote of a 205-vote TPS for paslon 2."""
    return ppwp_form(
        pemilih=None,
        surat_suara=None,
        suara_calon={1: 0, 2: 200, 3: 0},
        suara_sah=200,
        jumlah_suara=205,
    )


def test_unanimous_tps_is_flagged() -> None:
    (v,) = check_form(unanimous_form(), ROSTER)
    assert (v.code, v.severity) == ("ANOMALY_UNANIMOUS", Severity.WARNING)
    assert v.pesan == "Semua 200 suara sah untuk satu paslon (nomor 2)"


# A roster whose TPS 001 has 350 registered voters, above the Pemilu cap of 300.
OVER_CAP = dataclasses.replace(ROSTER, tps={TPS: TpsInfo(code=TPS, number=1, dpt_l=180, dpt_p=170)})


def test_tps_above_cap_is_an_error_about_the_roster() -> None:
    (v,) = check_form(ppwp_form(pemilih=None, surat_suara=None), OVER_CAP)
    assert v.code == "TPS_CAP"
    assert v.pesan == "DPT TPS 350 melebihi batas 300 pemilih per TPS; periksa daftar TPS"


def test_received_ballots_far_from_reserve() -> None:
    form = ppwp_form(surat_suara=SuratSuara(diterima=320, digunakan=250, rusak=2, sisa=68))
    (v,) = check_form(form, ROSTER)
    assert (v.code, v.severity) == ("SURAT_RESERVE", Severity.WARNING)
    assert v.pesan == "Surat suara diterima 320 jauh dari DPT 290 + cadangan 2% (6) = 296"


def test_every_rule_code_fires_on_an_example() -> None:
    # Every template is formatted at least once, with the numbers it names.
    pemilih = ppwp_form().pemilih
    assert pemilih is not None
    examples: list[tuple[CHasil, ElectionRoster | None]] = [
        (ppwp_form(pemilih=pemilih.model_copy(update={"pengguna_total": _lp(125, 126)})), ROSTER),
        (ppwp_form(pemilih=pemilih.model_copy(update={"dpt": _lp(150, 141)})), ROSTER),
        (ppwp_form(suara_tidak_sah=6), ROSTER),
        (ppwp_form(suara_sah=246, suara_tidak_sah=4), ROSTER),
        (ppwp_form(surat_suara=SuratSuara(diterima=296, digunakan=250, rusak=2, sisa=40)), ROSTER),
        (ppwp_form(surat_suara=SuratSuara(diterima=330, digunakan=250, rusak=2, sisa=78)), ROSTER),
        (ppwp_form(disabilitas=LP(l=1000, p=0, jumlah=999)), ROSTER),
        (ppwp_form(suara_calon={1: 80, 2: 120, 4: 45}), ROSTER),
        (ppwp_form(tps="16.07.01.1016.009"), ROSTER),
        (ppwp_form(contest=Contest.PILBUP), ROSTER),
        (ppwp_form(), None),
        (ppwp_form(), OVER_CAP),
        (sirekap_form(), ROSTER),
        (above_dpt_form(), ROSTER),
        (party_form(), ROSTER),
        (unanimous_form(), ROSTER),
    ]
    fired: list[Violation] = []
    for form, roster in examples:
        fired += check_form(form, roster)
    for operator in (
        OperatorRef(id="v", role=Role.VIEWER),
        OperatorRef(id="o", role=Role.OPERATOR, scope=("16.07.02",)),
    ):
        fired += check_scope(operator, TPS)
    assert {v.code for v in fired} == set(RULES)
    for v in fired:
        assert v.severity is RULES[v.code].severity
        assert "{" not in v.pesan + v.message
        assert re.search(r"\d", v.pesan) or v.code in {"ROLE_CANNOT_SUBMIT", "CONTEST_UNKNOWN"}


# --- scope -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "scope", "tps", "code"),
    [
        (Role.OPERATOR, ("16.07.01",), "16.07.01.1016.001", None),
        (Role.OPERATOR, ("16.07.01",), "16.07.011.1016.001", "SCOPE_OUTSIDE"),
        (Role.OPERATOR, ("16.07.0",), "16.07.01.1016.001", "SCOPE_OUTSIDE"),
        (Role.OPERATOR, ("16.07.01.1016.001",), "16.07.01.1016.001", None),
        (Role.OPERATOR, ("16.07.01.1016.00",), "16.07.01.1016.001", "SCOPE_OUTSIDE"),
        (Role.CAMAT, ("16.07.02", "16.07.01"), "16.07.01.1016.001", None),
        (Role.OPERATOR, (), "16.07.01.1016.001", "SCOPE_OUTSIDE"),
        (Role.CAMAT, (), "16.07.01.1016.001", "SCOPE_OUTSIDE"),
        (Role.ADMIN, (), "16.07.01.1016.001", None),
        (Role.ADMIN, ("16.07.02",), "16.07.01.1016.001", "SCOPE_OUTSIDE"),
        (Role.VIEWER, (), "16.07.01.1016.001", "ROLE_CANNOT_SUBMIT"),
        (Role.VIEWER, ("16.07.01",), "16.07.01.1016.001", "ROLE_CANNOT_SUBMIT"),
    ],
)
def test_scope(role: Role, scope: tuple[str, ...], tps: str, code: str | None) -> None:
    violations = check_scope(OperatorRef(id="op", role=role, scope=scope), tps)
    assert [v.code for v in violations] == ([code] if code else [])


def test_scope_message() -> None:
    operator = OperatorRef(id="op", role=Role.OPERATOR, scope=("16.07.02", "16.07.03"))
    (v,) = check_scope(operator, TPS)
    assert v.pesan == "TPS 16.07.01.1016.001 di luar wilayah tugas Anda (16.07.02, 16.07.03)"
    assert v.message == "TPS 16.07.01.1016.001 is outside your assigned area (16.07.02, 16.07.03)"


def test_validate_submission_puts_scope_first() -> None:
    sub = SubmissionReceived.model_validate(
        {
            "submission_id": "8a8f5f0e-4a3f-4c55-9c39-64e1c4a0e001",
            "received_at": "2024-02-14T13:00:00+07:00",
            "channel": "api",
            "operator": {"id": "op", "role": "operator", "scope": ["16.07.02"]},
            "idempotency_key": "k1",
            "form": ppwp_form(suara_tidak_sah=6).model_dump(),
        }
    )
    codes = [v.code for v in validate_submission(sub, ROSTER)]
    assert codes == ["SCOPE_OUTSIDE", "JUMLAH_SUARA", "PENGGUNA_VS_SUARA", "SURAT_DIGUNAKAN"]


# --- the table -------------------------------------------------------------------------------


def test_rule_table_is_well_formed() -> None:
    for code, spec in RULES.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", code)
        assert spec.code == code
        fields_id = set(re.findall(r"{(\w+)", spec.pesan))
        fields_en = set(re.findall(r"{(\w+)", spec.message))
        # Each language may name its own noun, otherwise both say the same numbers.
        assert fields_id - {"noun_id", "label_id", "row_id"} == fields_en - {
            "noun_en",
            "label_en",
            "row_en",
        }


def test_docs_table_matches_the_code() -> None:
    text = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    assert rules_markdown() in text


def test_has_errors() -> None:
    warning = Violation(code="DPT_MISMATCH", severity=Severity.WARNING, pesan="p", message="m")
    error = Violation(code="SAH_SUM", severity=Severity.ERROR, pesan="p", message="m")
    assert not has_errors([])
    assert not has_errors([warning])
    assert has_errors([warning, error])
