"""The forensics panel's pure functions: fingerprint bins and the last-digit test."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.api.forensics import TpsRow, fingerprint, last_digits, winner


def test_fingerprint_puts_each_tps_in_its_turnout_and_winner_share_bin() -> None:
    rows = [
        TpsRow({"c1": 30, "c2": 70}, voters=100, dpt=200),  # 50% turnout, winner 70%
        TpsRow({"c1": 10, "c2": 190}, voters=200, dpt=200),  # 100%: the top bin, winner 95%
        TpsRow({"c1": 0, "c2": 0}, voters=0, dpt=200),  # no valid votes: left out
    ]
    fp = fingerprint(rows, bins=20)
    assert fp["winner"] == "c2" and fp["tps"] == 2
    assert fp["counts"][10][14] == 1
    assert fp["counts"][19][19] == 1
    assert sum(map(sum, fp["counts"])) == 2


def test_winner_ties_go_to_the_lowest_line() -> None:
    assert winner([TpsRow({"c2": 5, "c10": 5}, 10, 20)]) == "c2"
    assert winner([]) is None


def test_last_digits_of_round_counts_are_far_from_uniform() -> None:
    fabricated = [TpsRow({"c1": 10 * k, "c2": 20 * k}, 0, 0) for k in range(1, 40)]
    assert last_digits(fabricated)["p_value"] < 1e-10
    honest = [TpsRow({"c1": v}, 0, 0) for v in range(10, 1010)]
    assert last_digits(honest)["p_value"] > 0.99


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(1, 300))))
def test_every_usable_tps_lands_in_exactly_one_bin(rows: list[tuple[int, int, int]]) -> None:
    tps = [TpsRow({"c1": a, "c2": b}, voters=a + b, dpt=d) for a, b, d in rows]
    fp = fingerprint(tps)
    assert sum(map(sum, fp["counts"])) == fp["tps"] == sum(1 for a, b, _ in rows if a + b > 0)
