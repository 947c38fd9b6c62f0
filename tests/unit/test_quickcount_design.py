"""Sample design: stratified by kecamatan, proportional to DPT, at least 2 each, systematic."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpemilu.quickcount.design import SampleSizeError, allocate, draw_sample
from deskpemilu.quickcount.rosters import roster_of
from shared.roster import ElectionRoster
from tests.unit.strategies import rosters


def test_banyuasin_default_sample_is_ten_percent_proportional_to_dpt() -> None:
    roster = roster_of("pemilu-2024")
    sample = draw_sample(roster, seed=7)
    assert sample.size == len(sample.tps) == round(0.1 * len(roster.tps)) == 256
    per_kec = Counter(roster.tps[c].kecamatan_code for c in sample.tps)
    assert per_kec == Counter(sample.allocation)
    dpt_total = sum(t.dpt for t in roster.tps.values())
    for kec, n in per_kec.items():
        assert n >= 2
        dpt = sum(t.dpt for t in roster.tps.values() if t.kecamatan_code == kec)
        assert abs(n - 256 * dpt / dpt_total) <= 2.0, kec  # the minimum of 2 shifts a few
    assert draw_sample(roster, seed=7) == sample
    assert draw_sample(roster, seed=8).tps != sample.tps


def test_allocation_by_hand() -> None:
    # DPT 100 : 300 : 600 of 10 TPS -> quotas 1, 3, 6; the minimum of 2 lifts the first.
    assert allocate({"a": (5, 100), "b": (5, 300), "c": (10, 600)}, 10) == {"a": 2, "b": 3, "c": 5}
    assert allocate({"a": (1, 100), "b": (9, 900)}, 4) == {"a": 1, "b": 3}  # a has one TPS


def test_systematic_selection_spreads_over_the_dpt_order() -> None:
    roster = roster_of("pilkada-2024")
    sample = draw_sample(roster, seed=3, size=200)
    kec = max(sample.allocation, key=lambda k: sample.allocation[k])
    ordered = sorted(
        (t for t in roster.tps.values() if t.kecamatan_code == kec), key=lambda t: (t.dpt, t.code)
    )
    ranks = [i for i, t in enumerate(ordered) if t.code in set(sample.tps)]
    gaps = {b - a for a, b in pairwise(ranks)}
    step = len(ordered) / sample.allocation[kec]
    assert gaps <= {int(step), int(step) + 1}


@settings(max_examples=40, deadline=None)
@given(roster=rosters(), data=st.data())
def test_any_size_the_roster_can_give(roster: ElectionRoster, data: st.DataObject) -> None:
    kec = {t.kecamatan_code for t in roster.tps.values()}
    minimum = sum(min(2, sum(1 for t in roster.tps.values() if t.kecamatan_code == k)) for k in kec)
    size = data.draw(st.integers(minimum, len(roster.tps)))
    sample = draw_sample(roster, seed=data.draw(st.integers(0, 99)), size=size)
    assert len(sample.tps) == len(set(sample.tps)) == size
    assert set(sample.tps) <= set(roster.tps)


def test_a_sample_larger_than_the_roster_is_refused() -> None:
    roster = roster_of("pilkada-2024")
    with pytest.raises(SampleSizeError) as err:
        draw_sample(roster, seed=1, size=len(roster.tps) + 1)
    assert err.value.code == "SAMPLE_TOO_LARGE" and "lebih besar" in err.value.pesan
    with pytest.raises(SampleSizeError):
        draw_sample(roster, seed=1, size=3)  # fewer than 2 per kecamatan
