"""The simulator plan: true forms pass every rule; each injected mistake trips its rule."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.simulator.plan import MistakeRates, Operators, plan_day
from deskpemilu.simulator.truth import expected_totals
from services.intake.parser import ParseOk, format_compact, parse_message
from services.validator.rules import validate_submission
from shared.events import Channel, OperatorRef, Role, Severity, SubmissionReceived, utcnow
from shared.roster import ElectionRoster, ancestors_of
from tests.unit.strategies import rosters

ALL_MISTAKES = MistakeRates(
    typo_sah=0.15, above_dpt=0.1, retry=0.1, resend_same=0.1, revision=0.15, conflict=0.15,
    unknown_tps=0.1,
)  # fmt: skip

ONLY_REVISIONS = MistakeRates(
    typo_sah=0, above_dpt=0, retry=0, resend_same=0, revision=1.0, conflict=0, unknown_tps=0
)


def _operators(roster: ElectionRoster) -> Operators:
    kecamatan = sorted({t.kecamatan_code for t in roster.tps.values()})
    ops = [
        OperatorRef(id=f"{prefix}-{kec}", role=Role.OPERATOR, scope=(kec,))
        for kec in kecamatan
        for prefix in ("op", "op2")
    ]
    return Operators.from_list(ops)


def _judge(roster: ElectionRoster, send_form: object, operator: OperatorRef) -> set[str]:
    sub = SubmissionReceived(
        submission_id=uuid.uuid4(), received_at=utcnow(), channel=Channel.API, operator=operator,
        idempotency_key="k", form=send_form,
    )  # fmt: skip
    return {v.code for v in validate_submission(sub, roster) if v.severity is Severity.ERROR}


@settings(max_examples=25, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_planned_sends_are_judged_as_the_plan_expects(roster: ElectionRoster, seed: int) -> None:
    plan = plan_day(roster, _operators(roster), seed=seed, rates=ALL_MISTAKES)
    assert plan.sends, "every TPS reports"
    for send in plan.sends:
        form = send.form
        if send.channel in (Channel.WHATSAPP, Channel.SMS):
            # Judge what the intake publishes: the text's reading of the form.
            parsed = parse_message(format_compact(form), election=roster.election_id)
            assert isinstance(parsed, ParseOk)
            form = parsed.form
        errors = _judge(roster, form, send.operator)
        if send.expect.startswith("rejected:"):
            assert send.expect.removeprefix("rejected:") in errors, (send.expect, errors)
        else:
            assert errors == set(), (send.mistake, errors)


@settings(max_examples=25, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_text_channels_carry_the_counted_numbers(roster: ElectionRoster, seed: int) -> None:
    plan = plan_day(roster, _operators(roster), seed=seed)
    for send in plan.sends:
        if send.channel in (Channel.WHATSAPP, Channel.SMS):
            parsed = parse_message(format_compact(send.form), election=roster.election_id)
            assert isinstance(parsed, ParseOk)
            assert parsed.form.votes_by_candidate() == send.form.votes_by_candidate()
            assert parsed.form.suara_sah == send.form.suara_sah


@settings(max_examples=25, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_truth_sums_every_counted_tps_into_each_ancestor(roster: ElectionRoster, seed: int) -> None:
    plan = plan_day(roster, _operators(roster), seed=seed, rates=ALL_MISTAKES)
    totals = expected_totals(plan, roster)
    for contest, areas in totals.items():
        counted = [f for (c, t), f in plan.counted.items() if c == contest and t in roster.tps]
        for area, truth in areas.items():
            inside = [f for f in counted if f.tps == area or area in ancestors_of(f.tps)]
            assert truth.tps_reported == len(inside)
            assert truth.suara_sah == sum(f.suara_sah for f in inside)


@settings(max_examples=10, deadline=None)
@given(roster=rosters())
def test_a_day_is_deterministic_and_in_time_order(roster: ElectionRoster) -> None:
    first = plan_day(roster, _operators(roster), seed=7, rates=ALL_MISTAKES)
    again = plan_day(roster, _operators(roster), seed=7, rates=ALL_MISTAKES)
    assert [s.idempotency_key for s in first.sends] == [s.idempotency_key for s in again.sends]
    assert [s.form for s in first.sends] == [s.form for s in again.sends]
    times = [s.at_s for s in first.sends]
    assert times == sorted(times)


@settings(max_examples=10, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_a_revision_ends_with_the_counted_form(roster: ElectionRoster, seed: int) -> None:
    plan = plan_day(roster, _operators(roster), seed=seed, rates=ONLY_REVISIONS)
    by_tps: dict[tuple[str, str], list[str]] = {}
    for send in plan.sends:
        by_tps.setdefault((str(send.form.contest), send.form.tps), []).append(send.expect)
        if send.expect == "revision":
            assert plan.counted[(str(send.form.contest), send.form.tps)] == send.form
    for expects in by_tps.values():
        assert expects in (["accepted"], ["accepted", "revision"])
