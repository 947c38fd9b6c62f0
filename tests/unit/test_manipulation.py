"""Manipulation injection: each kind does what it says and keeps the arithmetic where it can."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.simulator.manipulation import (
    Manipulation,
    ManipulationRates,
    copy_from,
    inject,
    misread,
    round_off,
    shift,
    stuff,
)
from deskpemilu.simulator.plan import true_form
from services.validator.rules import check_form, has_errors
from shared.form import CHasil, Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

TPS = [f"16.07.01.2001.{n:03d}" for n in range(1, 9)] + [
    f"16.07.02.2001.{n:03d}" for n in range(1, 5)
]
ROSTER = ElectionRoster(
    election_id="pemilu-2024",
    kind="pemilu",
    max_dpt_per_tps=300,
    ballot_reserve_pct=2.0,
    tps={c: TpsInfo(c, int(c[-3:]), 100 + 4 * i, 105 + 3 * i) for i, c in enumerate(TPS)},
    contests={Contest.PPWP: ContestInfo(Contest.PPWP, candidates=frozenset({1, 2, 3}))},
)
# What can still stop a manipulated form: more voters than the DPT or than ballots received,
# a number too big for three boxes.
BOUNDS = {"PENGGUNA_DPT_ABOVE_DPT", "BOX_RANGE", "VOTES_ABOVE_DPT", "SURAT_BALANCE"}


def _form(code: str, seed: int) -> CHasil:
    return true_form(
        ROSTER.election_id,
        ROSTER.contests[Contest.PPWP],
        ROSTER.tps[code],
        random.Random(seed),
        reserve_pct=ROSTER.ballot_reserve_pct,
    )


def _errors(form: CHasil) -> set[str]:
    found = check_form(form, ROSTER)
    return {v.code for v in found if has_errors([v])}


def _votes(form: CHasil) -> dict[int, int]:
    assert form.suara_calon is not None
    return dict(form.suara_calon)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(TPS), st.integers(0, 10_000))
def test_stuffing_fills_the_dpt_for_one_paslon_and_passes_the_checks(code: str, seed: int) -> None:
    form = _form(code, seed)
    stuffed, detail = stuff(form, ROSTER.tps[code].dpt, random.Random(seed))
    assert _errors(stuffed) == set()
    assert stuffed.pemilih is not None
    turnout = stuffed.pemilih.pengguna_dpt.jumlah / ROSTER.tps[code].dpt
    assert 0.95 <= turnout <= 1.0
    before, after = _votes(form), _votes(stuffed)
    changed = {n for n in before if before[n] != after[n]}
    assert changed <= {detail["to"]}
    assert sum(after.values()) - sum(before.values()) == detail["added"]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000))
def test_copied_tally_carries_the_source_numbers(seed: int) -> None:
    source, target = _form(TPS[0], seed), _form(TPS[1], seed + 1)
    copied, detail = copy_from(target, source)
    assert detail == {"source": TPS[0]}
    assert _votes(copied) == _votes(source)
    assert copied.suara_tidak_sah == source.suara_tidak_sah
    assert copied.tps == TPS[1]
    assert _errors(copied) <= BOUNDS


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(TPS), st.integers(0, 10_000))
def test_shifted_votes_keep_every_sum(code: str, seed: int) -> None:
    form = _form(code, seed)
    shifted, detail = shift(form, random.Random(seed))
    assert _errors(shifted) == set()
    assert (shifted.suara_sah, shifted.pemilih, shifted.surat_suara) == (
        form.suara_sah,
        form.pemilih,
        form.surat_suara,
    )
    before, after = _votes(form), _votes(shifted)
    giver, moved = int(str(detail["from"])), int(str(detail["moved"]))
    assert after[giver] == before[giver] - moved
    assert moved > 0


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(TPS), st.integers(0, 10_000))
def test_round_numbers_and_misreadings(code: str, seed: int) -> None:
    form = _form(code, seed)
    rounded, _ = round_off(form)
    assert all(v % 10 == 0 for v in _votes(rounded).values())
    assert _errors(rounded) <= BOUNDS
    read, detail = misread(form, random.Random(seed))
    if detail:
        written, got = str(detail["written"]), str(detail["read"])
        assert len(written) == len(got) and written[1:] == got[1:] and written[0] != got[0]
        assert _votes(read)[detail["line"]] == detail["read"]  # type: ignore[index]
        # The totals follow the lines: only a bound (DPT, three boxes) can stop it.
        assert _errors(read) <= BOUNDS


def test_inject_records_what_it_did_and_copies_only_from_earlier_reports() -> None:
    forms = {c: _form(c, i) for i, c in enumerate(TPS)}
    dpt = {c: ROSTER.tps[c].dpt for c in TPS}
    order = list(reversed(TPS))
    sent, truth = inject(forms, dpt, order, ManipulationRates(copied=1.0), random.Random(3))
    kinds = {t.kind for t in truth}
    assert kinds == {Manipulation.COPIED}
    position = {c: i for i, c in enumerate(order)}
    for t in truth:
        source = str(t.detail["source"])
        assert position[source] < position[t.tps]
        assert source.split(".")[:3] == t.tps.split(".")[:3]
        assert _votes(sent[t.tps]) == _votes(sent[source])
    # The first report of each kecamatan has nobody to copy from.
    assert {c for c in TPS if sent[c] == forms[c]} >= {order[0], "16.07.01.2001.008"}
    none, nothing = inject(forms, dpt, order, ManipulationRates(), random.Random(3))
    assert none == forms and nothing == []


def test_a_manipulated_day_keeps_every_send_and_its_planned_outcome() -> None:
    from deskpemilu.quickcount.rosters import known_folders, roster_from_folder
    from deskpemilu.simulator.manipulation import manipulate_plan
    from deskpemilu.simulator.plan import plan_day
    from services.intake.parser import ParseOk, format_compact, parse_message
    from shared.events import Channel
    from tests.unit.test_simulator_plan import _judge, _operators

    roster = roster_from_folder(known_folders()["pemilu-2024"])
    plan = plan_day(roster, _operators(roster), seed=5, tps_limit=400)
    before = [(s.idempotency_key, s.expect, s.at_s) for s in plan.sends]
    injected = manipulate_plan(plan, roster, ManipulationRates.uniform(0.03), seed=5)
    assert [(s.idempotency_key, s.expect, s.at_s) for s in plan.sends] == before
    assert {i.kind for i in injected} == set(Manipulation)
    assert all(i.contest == "PPWP" for i in injected)  # the one paslon contest of Pemilu
    by_key = {(str(s.form.contest), s.form.tps): s for s in plan.sends}
    for record in injected:
        send = by_key[(record.contest, record.tps)]
        assert plan.counted[(record.contest, record.tps)] == send.form
        form = send.form
        if send.channel in (Channel.WHATSAPP, Channel.SMS):
            parsed = parse_message(format_compact(form), election=roster.election_id)
            assert isinstance(parsed, ParseOk)
            form = parsed.form
        assert _judge(roster, form, send.operator) == set(), record
    none = plan_day(roster, _operators(roster), seed=5, tps_limit=400)
    assert manipulate_plan(none, roster, ManipulationRates(), seed=5) == []
