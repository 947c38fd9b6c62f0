"""The quick-count ratio estimator: known values, finite population correction, invariants."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from services.api.estimator import Z_95, TpsSample, ratio_estimate

LINES = ("c1", "c2", "c3")


def test_known_values_with_finite_population_correction() -> None:
    samples = [
        TpsSample({"c1": 10, "c2": 10}, 20),
        TpsSample({"c1": 30, "c2": 10}, 40),
        TpsSample({"c1": 20, "c2": 20}, 40),
    ]
    result = ratio_estimate(samples, ["c1", "c2"], population_size=10)
    assert result is not None
    c1 = result.estimates[0]
    assert c1.share == 0.6
    # (1 - 3/10) * ((10-12)^2 + (30-24)^2 + (20-24)^2) / ((3-1) * 3 * (100/3)^2)
    expected_se = math.sqrt(0.7 * 56 / (2 * 3 * (100 / 3) ** 2))
    assert c1.std_error is not None and math.isclose(c1.std_error, expected_se)
    assert math.isclose(c1.low, 0.6 - Z_95 * expected_se)
    assert math.isclose(c1.high, 0.6 + Z_95 * expected_se)
    assert (result.sample_size, result.population_size, result.sampling_fraction) == (3, 10, 0.3)


def test_a_full_count_has_no_sampling_error() -> None:
    samples = [TpsSample({"c1": 5, "c2": 15}, 20), TpsSample({"c1": 30, "c2": 10}, 40)]
    result = ratio_estimate(samples, ["c1", "c2"], population_size=2)
    assert result is not None
    assert [e.std_error for e in result.estimates] == [0.0, 0.0]
    assert [(e.low, e.high) for e in result.estimates] == [(35 / 60, 35 / 60), (25 / 60, 25 / 60)]


def test_one_tps_gives_a_share_without_an_interval_and_none_gives_nothing() -> None:
    one = ratio_estimate([TpsSample({"c1": 3}, 4)], ["c1"], population_size=100)
    assert one is not None
    assert one.estimates[0].share == 0.75 and one.estimates[0].std_error is None
    assert (one.estimates[0].low, one.estimates[0].high) == (0.0, 1.0)
    assert ratio_estimate([], ["c1"], population_size=100) is None
    assert ratio_estimate([TpsSample({}, 0)], ["c1"], population_size=100) is None


tps_votes = st.lists(
    st.tuples(*(st.integers(0, 300) for _ in LINES)).filter(lambda t: sum(t) > 0),
    min_size=2,
    max_size=60,
)


@given(tps_votes, st.integers(0, 5000))
def test_shares_sum_to_one_and_intervals_hold_them(rows: list[tuple[int, ...]], extra: int) -> None:
    samples = [TpsSample(dict(zip(LINES, row, strict=True)), sum(row)) for row in rows]
    result = ratio_estimate(samples, LINES, population_size=len(rows) + extra)
    assert result is not None
    assert math.isclose(sum(e.share for e in result.estimates), 1.0)
    for e in result.estimates:
        assert e.std_error is not None and e.std_error >= 0
        assert 0.0 <= e.low <= e.share + 1e-12 and e.share - 1e-12 <= e.high <= 1.0


@given(tps_votes, st.integers(2, 9))
def test_scaling_every_tps_changes_neither_share_nor_error(
    rows: list[tuple[int, ...]], factor: int
) -> None:
    def estimate(k: int) -> list[tuple[float, float]]:
        samples = [
            TpsSample({line: v * k for line, v in zip(LINES, row, strict=True)}, sum(row) * k)
            for row in rows
        ]
        result = ratio_estimate(samples, LINES, population_size=1000)
        assert result is not None
        return [(e.share, e.std_error or 0.0) for e in result.estimates]

    for (s1, e1), (s2, e2) in zip(estimate(1), estimate(factor), strict=True):
        assert math.isclose(s1, s2) and math.isclose(e1, e2, rel_tol=1e-9, abs_tol=1e-12)


@given(tps_votes)
def test_more_of_the_population_sampled_means_less_error(rows: list[tuple[int, ...]]) -> None:
    samples = [TpsSample(dict(zip(LINES, row, strict=True)), sum(row)) for row in rows]
    small = ratio_estimate(samples, LINES, population_size=len(rows) * 2)
    large = ratio_estimate(samples, LINES, population_size=len(rows) * 200)
    assert small is not None and large is not None
    for a, b in zip(small.estimates, large.estimates, strict=True):
        assert (a.std_error or 0) <= (b.std_error or 0) + 1e-15
