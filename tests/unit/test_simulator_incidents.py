"""The simulator's incident plan: seeded, at the configured rate, readable and in scope."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.simulator.incidents import CRITICAL, plan_incidents
from deskpemilu.simulator.plan import Operators
from services.intake.incident_parser import IncidentParsed, parse_incident
from shared.events import OperatorRef, Role
from shared.policy import submit_refusal
from shared.roster import ElectionRoster
from tests.unit.strategies import rosters


def _operators(roster: ElectionRoster) -> Operators:
    kecamatan = sorted({t.kecamatan_code for t in roster.tps.values()})
    return Operators.from_list(
        [OperatorRef(id=f"op-{k}", role=Role.OPERATOR, scope=(k,)) for k in kecamatan]
    )


@settings(max_examples=30)
@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_every_planned_incident_parses_and_is_in_its_sender_s_scope(
    roster: ElectionRoster, seed: int
) -> None:
    sends = plan_incidents(roster, _operators(roster), rate=0.5, critical_share=0.3, seed=seed)
    assert len(sends) == max(1, round(0.5 * len(roster.tps)))
    assert [s.at for s in sends] == sorted(s.at for s in sends)
    assert len({s.key for s in sends}) == len(sends)
    for send in sends:
        parsed = parse_incident(send.message())
        assert isinstance(parsed, IncidentParsed), parsed
        assert (parsed.area, parsed.category, parsed.text) == (send.area, send.category, send.text)
        assert submit_refusal(send.operator, send.area) is None
    again = plan_incidents(roster, _operators(roster), rate=0.5, critical_share=0.3, seed=seed)
    assert again == sends


@given(roster=rosters())
def test_rate_zero_plans_nothing(roster: ElectionRoster) -> None:
    assert plan_incidents(roster, _operators(roster), rate=0, critical_share=1, seed=1) == []


@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_critical_share_one_and_zero(roster: ElectionRoster, seed: int) -> None:
    ops = _operators(roster)
    assert all(
        s.category in CRITICAL
        for s in plan_incidents(roster, ops, rate=1, critical_share=1, seed=seed)
    )
    assert not any(
        s.critical for s in plan_incidents(roster, ops, rate=1, critical_share=0, seed=seed)
    )


@given(roster=rosters(), seed=st.integers(0, 10_000))
def test_only_the_day_s_tps_report_incidents(roster: ElectionRoster, seed: int) -> None:
    first = min(roster.tps)
    sends = plan_incidents(
        roster, _operators(roster), rate=3, critical_share=0.5, seed=seed, only={first}
    )
    assert sends and all(first.startswith(s.area) for s in sends)
