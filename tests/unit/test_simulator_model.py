"""The truth model: heterogeneous enough to fail a bad estimator, consistent, seedable."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.quickcount.rosters import known_folders, roster_from_folder
from deskpemilu.simulator.model import (
    ContestTruth,
    contest_truth,
    kecamatan_remoteness,
    report_times,
)
from deskpemilu.simulator.plan import Operators, plan_day
from deskpemilu.simulator.truth import final_shares
from shared.events import OperatorRef, Role
from shared.form import Contest
from shared.roster import ElectionRoster
from tests.unit.strategies import rosters

BANYUASIN = [("pemilu-2024", Contest.PPWP), ("pilkada-2024", Contest.PILBUP)]
SEEDS = range(10)


@cache
def _roster(election: str) -> ElectionRoster:
    return roster_from_folder(known_folders()[election])


def _leader(truth: ContestTruth) -> int:
    shares = truth.final_shares()
    return truth.lines.index(max(shares, key=shares.__getitem__))


def _kecamatan_means(truth: ContestTruth, line: int) -> dict[str, float]:
    kec = np.array(truth.kecamatan)
    return {
        k: float(truth.votes[kec == k, line].sum() / truth.suara_sah[kec == k].sum())
        for k in sorted(set(truth.kecamatan))
    }


@pytest.mark.parametrize(("election", "contest"), BANYUASIN)
def test_the_leaders_share_varies_by_tps_and_by_kecamatan(election: str, contest: Contest) -> None:
    for seed in SEEDS:
        truth = contest_truth(_roster(election), contest, seed)
        j = _leader(truth)
        assert truth.tps_shares()[:, j].std() >= 0.10, seed
        kab = truth.final_shares()[truth.lines[j]]
        means = _kecamatan_means(truth, j).values()
        assert max(means) >= kab + 0.08, seed
        assert min(means) <= kab - 0.08, seed


@pytest.mark.parametrize(("election", "contest"), BANYUASIN)
def test_turnout_varies_by_tps_and_by_kecamatan(election: str, contest: Contest) -> None:
    for seed in SEEDS:
        t = contest_truth(_roster(election), contest, seed).turnout
        rate = t.from_dpt / t.dpt
        assert rate.std() >= 0.04, seed
        kec = np.array([c.rsplit(".", 2)[0] for c in t.tps])
        means = [float(t.from_dpt[kec == k].sum() / t.dpt[kec == k].sum()) for k in set(kec)]
        assert max(means) - min(means) >= 0.10, seed


@pytest.mark.parametrize(("election", "contest"), BANYUASIN)
def test_tps_near_the_seat_report_markedly_earlier(election: str, contest: Contest) -> None:
    roster = _roster(election)
    remote = kecamatan_remoteness(roster)
    assert remote["16.07.03"] == 0.0  # Pangkalan Balai, the regency seat
    times = report_times(roster, [contest], seed=5)[contest]
    first_fifth = sorted(times, key=times.__getitem__)[: len(times) // 5]
    near = {k for k, r in remote.items() if r <= 0.25}
    share_near = sum(1 for c in roster.tps.values() if c.kecamatan_code in near) / len(roster.tps)
    early_near = sum(1 for c in first_fifth if roster.tps[c].kecamatan_code in near)
    assert early_near / len(first_fifth) >= 2 * share_near


def test_sample_tps_report_first() -> None:
    roster = _roster("pemilu-2024")
    sample = frozenset(sorted(roster.tps)[::10])
    times = report_times(roster, [Contest.PPWP, Contest.DPD], seed=3, sample=sample)
    for contest in (Contest.PPWP, Contest.DPD):
        at = times[contest]
        first = sorted(at, key=at.__getitem__)[: len(sample) // 2]
        assert sum(1 for c in first if c in sample) >= 0.75 * len(first)  # of 10% of the TPS
        others = sorted(t for c, t in at.items() if c not in sample)
        assert float(np.median([at[c] for c in sample])) < others[len(others) // 10]
    assert all(times[Contest.DPD][c] > times[Contest.PPWP][c] for c in roster.tps)


@settings(max_examples=30, deadline=None)
@given(roster=rosters(), seed=st.integers(0, 2**32 - 1))
def test_results_are_consistent_and_seedable(roster: ElectionRoster, seed: int) -> None:
    for contest in roster.contests:
        truth = contest_truth(roster, contest, seed)
        again = contest_truth(roster, contest, seed)
        assert np.array_equal(truth.votes, again.votes)
        t = truth.turnout
        assert np.array_equal(truth.votes.sum(axis=1), truth.suara_sah)
        assert np.array_equal(truth.suara_sah + truth.suara_tidak_sah, t.voters)
        assert (t.from_dpt <= t.dpt).all() and (t.voters * 100 <= 95 * t.dpt).all()
        assert (truth.votes >= 0).all() and (truth.suara_tidak_sah >= 0).all()
        one = truth.result(truth.tps[0])
        assert sum(one.votes.values()) == one.suara_sah


def test_another_seed_is_another_day() -> None:
    roster = _roster("pilkada-2024")
    a = contest_truth(roster, Contest.PILBUP, 1)
    b = contest_truth(roster, Contest.PILBUP, 2)
    assert not np.array_equal(a.votes, b.votes)


def test_the_plan_counts_the_models_numbers_and_the_truth_carries_final_shares() -> None:
    roster = _roster("pilkada-2024")
    kec = sorted({t.kecamatan_code for t in roster.tps.values()})
    ops = Operators.from_list(
        [OperatorRef(id=f"op-{k}", role=Role.OPERATOR, scope=(k,)) for k in kec]
    )
    plan = plan_day(roster, ops, seed=11, contests=[Contest.PILBUP])
    truth = contest_truth(roster, Contest.PILBUP, 11)
    for code in list(roster.tps)[:50]:
        form = plan.counted[("PILBUP", code)]
        assert form.suara_calon == truth.result(code).votes
    expected = {f"c{n}": s for n, s in truth.final_shares().items()}
    assert final_shares(plan, roster)["PILBUP"] == pytest.approx(expected)
