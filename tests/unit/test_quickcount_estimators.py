"""Quick-count estimators: a small example worked by hand, and properties that must always hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.quickcount import (
    PARTIAL,
    SAMPLE,
    Z95,
    Report,
    StratumFrame,
    frame_of,
    merge_strata,
    partial_count_estimate,
    raw_shares,
    sample_estimate,
)

FRAME = [StratumFrame("A", tps=4, dpt=400), StratumFrame("B", tps=3, dpt=300)]


def _report(tps: str, stratum: str, c1: int, c2: int, voters: int, dpt: int = 100) -> Report:
    return Report(tps, stratum, dpt, voters, c1 + c2, {"c1": c1, "c2": c2})


# Two sample TPS reported in each stratum, DPT 100 each.
EXAMPLE = [
    _report("a1", "A", 30, 20, 52),
    _report("a2", "A", 40, 40, 82),
    _report("b1", "B", 10, 30, 41),
    _report("b2", "B", 20, 40, 61),
]


def test_a_small_example_worked_by_hand() -> None:
    est = sample_estimate(EXAMPLE, FRAME, ["c1", "c2"])
    assert est is not None and est.method == SAMPLE
    # Totals by ratio to the DPT: A: c1 400*70/200 = 140, valid 400*130/200 = 260;
    # B: c1 300*30/200 = 45, valid 300*100/200 = 150. p1 = 185/410.
    assert est.share("c1").value == pytest.approx(185 / 410)
    assert est.share("c2").value == pytest.approx(225 / 410)
    # Residuals e = a - p1*m: A 7.43902, 3.90244 (mean 5.67073, deviations +-1.76829),
    # B -8.04878, -7.07317 (deviations -+0.48780). Var_A = 400^2 (1 - 2/4) / (2 * 100^2) *
    # 2 * 1.76829^2 = 25.01486; Var_B = 300^2 (1 - 2/3) / (2 * 100^2) * 2 * 0.48780^2 = 0.71386.
    # Var(p1) = (25.01486 + 0.71386) / 410^2 = 1.530563e-4.
    assert est.share("c1").se == pytest.approx(math.sqrt(1.530563e-4), rel=1e-5)
    assert est.share("c1").margin95 == pytest.approx(1.96 * 0.0123716, rel=1e-3)
    # Turnout: voters by ratio to DPT 400*134/200 + 300*102/200 = 421 of 700; residual
    # deviations +-15 (A) and +-10 (B): Var = (4 * 450 + 1.5 * 200) / 700^2.
    assert est.turnout.value == pytest.approx(421 / 700)
    assert est.turnout.se == pytest.approx(math.sqrt(2100 / 700**2))
    # With two lines the lead is 2*p2 - 1: its SE is twice a share's (their covariance is -Var).
    assert est.lead is not None
    assert (est.lead.leader, est.lead.runner_up) == ("c2", "c1")
    assert est.lead.difference == pytest.approx(40 / 410)
    assert est.lead.se == pytest.approx(2 * est.share("c1").se)
    # 0.09756 - 1.96 * 0.02474 = 0.0491 > 0: the lead is decided at 95%; at 99% too (0.0338).
    assert est.lead.decided95 and est.lead.decided99


def test_a_close_race_is_too_close_to_call() -> None:
    close = [
        _report("a1", "A", 30, 28, 60),
        _report("a2", "A", 20, 23, 45),
        _report("b1", "B", 25, 20, 47),
        _report("b2", "B", 18, 24, 43),
    ]
    est = sample_estimate(close, FRAME, ["c1", "c2"])
    assert est is not None and est.lead is not None
    low, high = est.lead.interval()
    assert low < 0 < high and not est.lead.decided95


def test_the_merge_rule_joins_a_thin_stratum_with_the_next_one() -> None:
    assert merge_strata({"a": 0, "b": 3, "c": 1, "d": 2}) == [("a", "b"), ("c", "d")]
    assert merge_strata({"a": 3, "b": 1}) == [("a", "b")]  # the last joins the one before
    assert merge_strata({"a": 1, "b": 0, "c": 1}) == [("a", "b", "c")]
    assert merge_strata({"a": 2, "b": 2}) == [("a",), ("b",)]
    assert merge_strata({"a": 0}) == [("a",)]


def test_strata_without_reports_are_named_and_merged() -> None:
    frame = [*FRAME, StratumFrame("C", tps=2, dpt=150)]
    est = partial_count_estimate(EXAMPLE, frame, ["c1", "c2"])
    assert est is not None and est.method == PARTIAL
    assert est.strata_without_reports == ("C",)
    assert [g.strata for g in est.groups] == [("A",), ("B", "C")]
    # C borrows B's ratios: c1 = (140 + 450*30/200) / (260 + 450*100/200).
    assert est.share("c1").value == pytest.approx((140 + 67.5) / (260 + 225))


def test_raw_shares_and_too_few_reports() -> None:
    assert raw_shares(EXAMPLE, ["c1", "c2"]) == pytest.approx({"c1": 100 / 230, "c2": 130 / 230})
    assert sample_estimate(EXAMPLE[:1], FRAME, ["c1", "c2"]) is None
    assert frame_of({"t1": ("A", 100), "t2": ("A", 50), "t3": ("B", 10)}) == [
        StratumFrame("A", 2, 150),
        StratumFrame("B", 1, 10),
    ]


LINES = ["c1", "c2", "c3"]


@st.composite
def populations(draw: st.DrawFn) -> list[Report]:
    """A population of 4 to 30 TPS in 1 to 4 kecamatan, each with at least 2 TPS."""
    out: list[Report] = []
    for h in range(draw(st.integers(1, 4))):
        for i in range(draw(st.integers(2, 8))):
            dpt = draw(st.integers(50, 300))
            votes = [draw(st.integers(0, dpt // 3)) for _ in LINES]
            if sum(votes) == 0:
                votes[0] = 1
            voters = sum(votes) + draw(st.integers(0, 5))
            out.append(
                Report(
                    f"{h}.{i}",
                    f"k{h}",
                    dpt,
                    voters,
                    sum(votes),
                    dict(zip(LINES, votes, strict=True)),
                )
            )
    return out


def _frame(population: list[Report]) -> list[StratumFrame]:
    return frame_of({r.tps: (r.stratum, r.dpt) for r in population})


@settings(max_examples=150, deadline=None)
@given(population=populations(), data=st.data())
def test_shares_sum_to_one_and_intervals_hold_their_point(
    population: list[Report], data: st.DataObject
) -> None:
    chosen = data.draw(st.lists(st.sampled_from(population), min_size=2, unique_by=lambda r: r.tps))
    est = sample_estimate(chosen, _frame(population), LINES)
    assert est is not None
    assert sum(f.value for f in est.shares) == pytest.approx(1.0)
    for fig in (*est.shares, est.turnout):
        assert fig.se >= 0 and math.isfinite(fig.se)
        low, high = fig.interval()
        assert low <= fig.value <= high
        assert high - low == pytest.approx(2 * Z95 * fig.se)
    assert est.lead is not None and est.lead.difference >= 0
    assert est.lead.difference == pytest.approx(
        est.share(est.lead.leader).value - est.share(est.lead.runner_up).value
    )


@settings(max_examples=100, deadline=None)
@given(population=populations())
def test_the_margin_is_zero_when_every_tps_is_in_the_sample(population: list[Report]) -> None:
    est = sample_estimate(population, _frame(population), LINES)
    assert est is not None
    truth = raw_shares(population, LINES)
    for fig in est.shares:
        assert fig.value == pytest.approx(truth[fig.key])
        assert fig.se == pytest.approx(0.0, abs=1e-9)
    voters = sum(r.voters for r in population) / sum(r.dpt for r in population)
    assert est.turnout.value == pytest.approx(voters) and est.turnout.se == pytest.approx(
        0.0, abs=1e-9
    )
    assert est.lead is not None and est.lead.se == pytest.approx(0.0, abs=1e-9)
