"""The simulator's silent TPS: left out of the sends and the counted truth, recorded, and the
activity truth split at a deadline."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.simulator.incidents import expected_incidents, plan_incidents
from deskpemilu.simulator.plan import SilenceRates, plan_day, split_at
from deskpemilu.simulator.truth import expected_activity, expected_silent
from shared.incidents import IncidentSeverity, default_severity
from shared.roster import ElectionRoster
from tests.unit.strategies import rosters
from tests.unit.test_simulator_plan import ALL_MISTAKES, _operators


@settings(max_examples=20, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_silenced_pairs_send_nothing_and_the_rest_is_unchanged(
    roster: ElectionRoster, seed: int
) -> None:
    ops = _operators(roster)
    loud = plan_day(roster, ops, seed=seed, rates=ALL_MISTAKES)
    quiet = plan_day(
        roster, ops, seed=seed, rates=ALL_MISTAKES, silence=SilenceRates(silent=0.3, quit=0.3)
    )
    sent = {(str(s.form.contest), s.form.tps) for s in quiet.sends}
    assert not quiet.silenced & sent
    assert not quiet.silenced & set(quiet.counted)
    assert set(quiet.counted) == set(loud.counted) - quiet.silenced
    # Every other pair's sends are those of the loud day, send for send.
    kept = [
        s
        for s in loud.sends
        if (str(s.form.contest), s.form.tps) not in quiet.silenced and s.form.tps in roster.tps
    ]
    assert kept == [s for s in quiet.sends if s.form.tps in roster.tps]
    # A TPS that quits keeps its first contests in count order: silence is a suffix.
    for tps in {t for _, t in quiet.silenced}:
        flags = [(c, tps) in quiet.silenced for c in quiet.contests]
        assert flags == sorted(flags)
    silent = expected_silent(quiet, roster)
    assert {(c, t) for c, codes in silent.items() for t in codes} == quiet.silenced


@settings(max_examples=5, deadline=None)
@given(roster=rosters())
def test_no_silence_plans_the_same_day(roster: ElectionRoster) -> None:
    ops = _operators(roster)
    plain = plan_day(roster, ops, seed=3)
    zero = plan_day(roster, ops, seed=3, silence=SilenceRates())
    assert plain.sends == zero.sends
    assert plain.silenced == set()


@settings(max_examples=20, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000), cut=st.floats(0, 1))
def test_split_keeps_each_key_in_one_part(roster: ElectionRoster, seed: int, cut: float) -> None:
    plan = plan_day(roster, _operators(roster), seed=seed, rates=ALL_MISTAKES)
    if not plan.sends:
        return
    at = plan.sends[0].at_s + cut * (plan.sends[-1].at_s - plan.sends[0].at_s)
    before, after = split_at(plan, at)
    assert len(before.sends) + len(after.sends) == len(plan.sends)
    keys_before = {(s.operator.id, s.idempotency_key) for s in before.sends}
    assert not keys_before & {(s.operator.id, s.idempotency_key) for s in after.sends}
    truth = expected_activity(plan, deadline_s=at)
    for line in truth.values():
        assert 0 <= line["sent_by_deadline"] <= line["pairs_sent"]
    early = expected_activity(before)
    assert sum(x["pairs_sent"] for x in truth.values()) >= sum(
        x["pairs_sent"] for x in early.values()
    )


@settings(max_examples=15, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_incidents_come_from_the_usual_sender_and_count_per_operator(
    roster: ElectionRoster, seed: int
) -> None:
    ops = _operators(roster)
    plan = plan_day(roster, ops, seed=seed)
    planned = {s.form.tps for s in plan.sends if s.form.tps in roster.tps}
    every = plan_incidents(roster, ops, rate=1.0, critical_share=1.0, seed=seed, only=planned)
    assert all(default_severity(i.category) is IncidentSeverity.CRITICAL for i in every)
    for i in every:
        tps = i.area if i.area in roster.tps else None
        kecamatan = ".".join(i.area.split(".")[:3])
        assert tps is None or tps in planned
        assert i.operator == ops.sender(kecamatan)
    assert sum(expected_incidents(every).values()) == len(every)
