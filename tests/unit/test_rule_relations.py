"""The rules as data (relations.py) say exactly what rules.check_form says, on random forms."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from services.validator.relations import (
    ROSTER_ONLY,
    boxes_for,
    checks_for,
    context_of,
    evaluate,
)
from services.validator.rules import RULES, check_form
from shared.form import CHasil, Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo
from tests.unit.strategies import consistent_forms, rosters


def _key(v: dict[str, Any]) -> tuple[str, str, str, str]:
    return (v["code"], v["field"] or "", v["pesan"], v["message"])


def _server(form: CHasil, roster: ElectionRoster) -> list[tuple[str, str, str, str]]:
    return sorted(_key(v.model_dump(mode="json")) for v in check_form(form, roster))


def _data(form: CHasil, roster: ElectionRoster) -> list[tuple[str, str, str, str]]:
    checks = checks_for(roster.contests[form.contest])
    ctx = context_of(roster, roster.tps[form.tps])
    return sorted(_key(v) for v in evaluate(checks, form.model_dump(mode="json"), ctx))


@st.composite
def _corrupted(draw: st.DrawFn, roster: ElectionRoster) -> CHasil:
    """A form of a roster TPS and contest with some of its numbers replaced at random."""
    form = draw(consistent_forms(roster)).model_dump(mode="json")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: v if k == "nomor_partai" else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, int) and not isinstance(node, bool) and draw(st.integers(0, 5)) == 0:
            return draw(st.one_of(st.integers(0, 12), st.integers(0, 400), st.integers(990, 1010)))
        return node

    return CHasil.model_validate(walk(form))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_data_checks_equal_the_rules_on_corrupted_forms(data: st.DataObject) -> None:
    roster = data.draw(rosters(party_list=data.draw(st.booleans())))
    form = data.draw(_corrupted(roster))
    server = _server(form, roster)
    assert _data(form, roster) == server
    event("codes: " + ",".join(sorted({code for code, *_ in server})[:3]))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_consistent_forms_break_no_data_check(data: st.DataObject) -> None:
    roster = data.draw(rosters())
    form = data.draw(consistent_forms(roster))
    assert _data(form, roster) == [] == _server(form, roster)


def _roster(dpt_l: int, dpt_p: int, contest: ContestInfo) -> ElectionRoster:
    tps = TpsInfo("16.07.01.1016.001", 1, dpt_l, dpt_p)
    return ElectionRoster(
        "pemilu-2024", "pemilu", 300, 2.0, {tps.code: tps}, {contest.contest: contest}
    )


PPWP = ContestInfo(Contest.PPWP, candidates=frozenset({1, 2, 3}))


@pytest.mark.parametrize(
    ("votes", "tidak_sah", "codes"),
    [
        ({"1": 60, "2": 0, "3": 0}, 1, {"ANOMALY_UNANIMOUS"}),  # one paslon holds every vote
        ({"1": 95, "2": 95, "3": 10}, 2, {"ANOMALY_HIGH_TURNOUT"}),  # 202 of 210
        ({"1": 150, "2": 60, "3": 10}, 0, {"VOTES_ABOVE_DPT"}),  # 220 > 210 + 5
        ({"1": 10, "2": 1000, "3": 10}, 0, {"BOX_RANGE", "VOTES_ABOVE_DPT"}),
    ],
)
def test_thresholds_agree(votes: dict[str, int], tidak_sah: int, codes: set[str]) -> None:
    roster = _roster(100, 110, PPWP)
    form = CHasil.model_validate(
        {
            "election": "pemilu-2024",
            "contest": "PPWP",
            "tps": "16.07.01.1016.001",
            "suara_calon": votes,
            "suara_sah": sum(votes.values()),
            "suara_tidak_sah": tidak_sah,
        }
    )
    assert {code for code, *_ in _server(form, roster)} == codes
    assert _data(form, roster) == _server(form, roster)


def test_tps_above_the_cap_agrees() -> None:
    roster = _roster(200, 150, PPWP)
    form = CHasil.model_validate(
        {
            "election": "pemilu-2024",
            "contest": "PPWP",
            "tps": "16.07.01.1016.001",
            "suara_calon": {"1": 40, "2": 50, "3": 30},
            "suara_sah": 120,
            "suara_tidak_sah": 0,
        }
    )
    assert {code for code, *_ in _server(form, roster)} == {"TPS_CAP"}
    assert _data(form, roster) == _server(form, roster)


def test_every_form_rule_is_data_or_named_roster_only() -> None:
    party = ContestInfo(Contest.DPR, parties={1: frozenset({1, 2}), 2: frozenset()})
    covered = {c["code"] for info in (PPWP, party) for c in checks_for(info)}
    assert covered | ROSTER_ONLY == set(RULES)
    assert not covered & ROSTER_ONLY


def test_boxes_follow_the_form_order_with_the_rules_labels() -> None:
    party = ContestInfo(Contest.DPR, parties={2: frozenset({1}), 1: frozenset()})
    fields = [b["field"] for b in boxes_for(party)]
    assert fields[:3] == ["pemilih.dpt.l", "pemilih.dpt.p", "pemilih.dpt.jumlah"]
    assert fields.index("suara_partai.1.jumlah") < fields.index("suara_partai.2.suara_partai")
    assert "suara_partai.2.suara_calon.1" in fields
    assert fields[-3:] == ["suara_sah", "suara_tidak_sah", "jumlah_suara"]
    labels = {b["field"]: b["label_id"] for b in boxes_for(PPWP)}
    assert labels["suara_calon.2"] == "IV suara nomor urut 2"
