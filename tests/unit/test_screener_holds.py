"""Hold decisions of the screener and the quarantine risk shown on the dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.api.forensics import quarantine_risk
from services.screener.holds import SCREENER, hold_decisions
from services.screener.screens import Action, Finding
from shared.screens import Severity

NOW = datetime(2024, 2, 14, 15, 0, tzinfo=UTC)
TPS = "16.07.01.2001.003"
SUB = uuid.UUID(int=7)


def _finding(action: Action, tps: str = TPS, code: str = "STUFFING_PATTERN") -> Finding:
    return Finding(code, Severity.CRITICAL, "PPWP", tps, {}, {}, "p", "m", action)


def test_only_hold_findings_on_counted_results_become_hold_decisions() -> None:
    state = {("PPWP", TPS): (SUB, "")}
    decisions = hold_decisions("pemilu-2024", [_finding(Action.HOLD)], state, NOW)
    assert [(d.tps, d.action, d.reviewer) for d in decisions] == [(TPS, "hold", SCREENER)]
    assert hold_decisions("pemilu-2024", [_finding(Action.FLAG)], state, NOW) == []
    held = {("PPWP", TPS): (SUB, "held")}
    assert hold_decisions("pemilu-2024", [_finding(Action.HOLD)], held, NOW) == []
    area = _finding(Action.HOLD, tps="16.07.01", code="ROUND_EXCESS_AREA")
    assert hold_decisions("pemilu-2024", [area], state, NOW) == []


def test_the_decision_id_depends_on_the_form_not_the_moment() -> None:
    state = {("PPWP", TPS): (SUB, "")}
    first = hold_decisions("pemilu-2024", [_finding(Action.HOLD)], state, NOW)
    later = hold_decisions("pemilu-2024", [_finding(Action.HOLD)], state, datetime.now(UTC))
    assert [d.decision_id for d in first] == [d.decision_id for d in later]
    revised = {("PPWP", TPS): (uuid.UUID(int=8), "")}
    other = hold_decisions("pemilu-2024", [_finding(Action.HOLD)], revised, NOW)
    assert other[0].decision_id != first[0].decision_id
    # Two hold screens on one result: one decision per screen code.
    both = [_finding(Action.HOLD), _finding(Action.HOLD, code="TURNOUT_OUTLIER_DESA")]
    assert len(hold_decisions("pemilu-2024", both, state, NOW)) == 2


def test_quarantine_risk_warns_when_held_votes_cover_the_margin() -> None:
    safe = quarantine_risk({"c1": 500, "c2": 300}, {"c1": 20, "c2": 50})
    assert safe["leader"] == "c1" and not safe["could_change"] and safe["margin"] == 200
    close = quarantine_risk({"c1": 500, "c2": 480}, {"c2": 25})
    assert close["could_change"] and close["leader_if_released"] == "c2"
    assert not quarantine_risk({"c1": 5}, {})["could_change"]
