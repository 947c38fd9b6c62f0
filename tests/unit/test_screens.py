"""Screens across TPS: hand-made kecamatan with one planted oddity each, and properties."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.screener.screens import (
    Action,
    Finding,
    ScreenConfig,
    TpsResult,
    binomial_sf,
    reconcile,
    robust_z,
    screen_kecamatan,
)
from shared.screens import Severity, chi_square_sf, last_digit_test

KEC = "16.07.01"


def _tps(desa: int, n: int) -> str:
    return f"{KEC}.{2000 + desa:04d}.{n:03d}"


def _result(
    tps: str,
    *,
    dpt: int = 250,
    turnout: float = 0.76,
    shares: tuple[float, ...] = (0.15, 0.72, 0.13),
    invalid: float = 0.02,
    contest: str = "PPWP",
    version: int = 1,
    operator: str = "op-1",
    at: float = 0.0,
    jitter: int = 0,
) -> TpsResult:
    voters = round(dpt * turnout)
    tidak_sah = round(voters * invalid)
    sah = voters - tidak_sah
    lines = [round(sah * s) for s in shares]
    lines[0] += jitter
    lines[1] -= jitter
    lines[-1] += sah - sum(lines)
    return TpsResult(
        contest=contest,
        tps=tps,
        dpt=dpt,
        voters=voters,
        suara_sah=sah,
        suara_tidak_sah=tidak_sah,
        votes=tuple((f"c{i + 1}", v) for i, v in enumerate(lines)),
        version=version,
        operator=operator,
        received_at=at,
    )


def _kecamatan(seed: int = 1, desa: int = 6, per_desa: int = 6) -> list[TpsResult]:
    """A calm kecamatan: turnout 70-82%, shares near the Banyuasin ones, distinct vectors."""
    rng = random.Random(seed)
    out = []
    for d in range(desa):
        for n in range(1, per_desa + 1):
            c1 = rng.uniform(0.10, 0.20)
            c3 = rng.uniform(0.09, 0.17)
            out.append(
                _result(
                    _tps(d, n),
                    dpt=rng.randint(200, 290),
                    turnout=rng.uniform(0.70, 0.82),
                    shares=(c1, 1 - c1 - c3, c3),
                    invalid=rng.uniform(0.01, 0.035),
                    at=60.0 * (d * per_desa + n) * 7,
                    jitter=d,
                )
            )
    return out


def _codes(findings: list[Finding], tps: str) -> set[str]:
    return {f.code for f in findings if f.tps == tps}


def test_a_calm_kecamatan_raises_nothing() -> None:
    assert screen_kecamatan(_kecamatan()) == []


def test_stuffed_tps_is_far_from_kecamatan_and_desa() -> None:
    rows = _kecamatan()
    stuffed = _result(_tps(2, 3), dpt=250, turnout=0.99, shares=(0.05, 0.9, 0.05))
    rows = [stuffed if r.tps == stuffed.tps else r for r in rows]
    findings = screen_kecamatan(rows)
    codes = _codes(findings, stuffed.tps)
    assert {"TURNOUT_OUTLIER_KECAMATAN", "TURNOUT_OUTLIER_DESA"} <= codes
    f = next(f for f in findings if f.code == "TURNOUT_OUTLIER_KECAMATAN")
    assert f.value["turnout"] == 0.992  # round(250 * 0.99) = 248 voters
    assert 0.70 <= f.reference["median"] <= 0.82
    assert f.pesan.startswith("partisipasi 99% vs median kecamatan 7")
    assert f.message.startswith("turnout 99% vs kecamatan median 7")
    assert {f.tps for f in findings} == {stuffed.tps}


def test_one_sided_at_high_turnout_and_full_turnout() -> None:
    rows = _kecamatan()
    odd = _result(_tps(1, 1), dpt=200, turnout=1.0, shares=(0.01, 0.98, 0.01), invalid=0.0)
    rows = [odd if r.tps == odd.tps else r for r in rows]
    codes = _codes(screen_kecamatan(rows), odd.tps)
    assert {"ONE_SIDED_HIGH_TURNOUT", "TURNOUT_FULL"} <= codes


def test_full_turnout_counts_dptb_and_dpk_voters_as_eligible() -> None:
    base = _result(_tps(0, 1), dpt=200, turnout=1.0)
    with_extra = replace(base, extra_voters=10)
    assert base.turnout == 1.0
    assert with_extra.turnout is not None and with_extra.turnout < 1.0
    assert "TURNOUT_FULL" in _codes(screen_kecamatan([base]), base.tps)
    assert screen_kecamatan([with_extra]) == []


def test_copied_tally_flags_the_later_sender_and_names_the_source() -> None:
    rows = _kecamatan()
    source = rows[3]
    copy = replace(source, tps=_tps(4, 2), received_at=1e6)
    rows = [copy if r.tps == copy.tps else r for r in rows]
    findings = [f for f in screen_kecamatan(rows) if f.code == "IDENTICAL_VOTES"]
    assert [f.tps for f in findings] == [copy.tps]
    assert findings[0].reference["tps"] == source.tps
    assert findings[0].severity is Severity.CRITICAL


def test_identical_needs_a_non_trivial_vector() -> None:
    a = _result(_tps(0, 1), dpt=60, turnout=0.5)  # 29 valid votes: below the minimum
    b = replace(a, tps=_tps(0, 2))
    assert screen_kecamatan([a, b]) == []


def test_round_numbers_need_three_round_lines() -> None:
    rows = _kecamatan()
    r0 = rows[5]
    round_votes = (("c1", 30), ("c2", 140), ("c3", 20))
    fab = replace(r0, votes=round_votes, suara_sah=190)
    two = replace(rows[6], votes=(("c1", 30), ("c2", 140), ("c3", 7)), suara_sah=177)
    rows = [fab if r.tps == fab.tps else two if r.tps == two.tps else r for r in rows]
    findings = screen_kecamatan(rows)
    assert "ROUND_NUMBERS" in _codes(findings, fab.tps)
    assert "ROUND_NUMBERS" not in _codes(findings, two.tps)


def test_invalid_share_far_from_the_kecamatan() -> None:
    rows = _kecamatan()
    odd = _result(_tps(3, 3), invalid=0.25)
    rows = [odd if r.tps == odd.tps else r for r in rows]
    f = [f for f in screen_kecamatan(rows) if f.code == "INVALID_SHARE_OUTLIER"]
    assert [x.tps for x in f] == [odd.tps]
    assert f[0].pesan.startswith("suara tidak sah 25% vs median kecamatan")


def test_shifted_votes_show_as_a_share_outlier_against_the_desa() -> None:
    rows = _kecamatan()
    victim = rows[8]
    votes = dict(victim.votes)
    moved = votes["c2"] // 2
    shifted = (("c1", votes["c1"] + moved), ("c2", votes["c2"] - moved), ("c3", votes["c3"]))
    odd = replace(victim, votes=shifted)
    rows = [odd if r.tps == odd.tps else r for r in rows]
    assert _codes(screen_kecamatan(rows), odd.tps) == {"SHARE_OUTLIER"}


def test_revised_often_and_same_numbers_for_two_contests() -> None:
    rows = _kecamatan()
    revised = replace(rows[0], version=4)
    dpd_like = replace(rows[1], contest="PILBUP", received_at=9e6)
    rows = [revised if r.tps == revised.tps else r for r in rows] + [dpd_like]
    findings = screen_kecamatan(rows)
    assert "REVISED_OFTEN" in _codes(findings, revised.tps)
    same = [f for f in findings if f.code == "SAME_ACROSS_CONTESTS"]
    assert [(f.tps, f.contest, f.reference["contest"]) for f in same] == [
        (rows[1].tps, "PILBUP", "PPWP")
    ]


def test_operator_burst_flags_only_forms_inside_the_window() -> None:
    calm = _kecamatan()  # one form every 7 minutes
    burst = [  # 20 TPS in 100 seconds
        replace(r, operator="op-fast", received_at=5e6 + 5 * i) for i, r in enumerate(calm[:20])
    ]
    flagged = {f.tps for f in screen_kecamatan(burst + calm[20:]) if f.code == "OPERATOR_BURST"}
    assert flagged == {r.tps for r in burst}
    nineteen = burst[:19] + calm[19:]
    assert not [f for f in screen_kecamatan(nineteen) if f.code == "OPERATOR_BURST"]


def test_a_finding_closes_when_the_reference_moves() -> None:
    rows = _kecamatan()
    high = _result(_tps(0, 1), turnout=0.97)
    first = screen_kecamatan([high if r.tps == high.tps else r for r in rows])
    assert any(f.tps == high.tps for f in first)
    # The rest of the kecamatan turns out high as well: 97% is no longer unusual.
    risen = [replace(r, voters=round(r.dpt * 0.96)) for r in rows]
    second = screen_kecamatan([high if r.tps == high.tps else r for r in risen])
    change = reconcile(first, second)
    assert any(key[1] == high.tps for key in change.closed)
    assert not any(f.tps == high.tps for f in second if f.code.startswith("TURNOUT_OUTLIER"))


def test_configured_action_holds() -> None:
    rows = _kecamatan()
    stuffed = _result(_tps(2, 3), turnout=0.99, shares=(0.05, 0.9, 0.05))
    rows = [stuffed if r.tps == stuffed.tps else r for r in rows]
    cfg = ScreenConfig(actions={"TURNOUT_OUTLIER_KECAMATAN": Action.HOLD})
    actions = {f.code: f.action for f in screen_kecamatan(rows, cfg)}
    assert actions["TURNOUT_OUTLIER_KECAMATAN"] is Action.HOLD
    assert actions["TURNOUT_OUTLIER_DESA"] is Action.FLAG


def test_statistics_helpers_against_known_values() -> None:
    assert robust_z(10, [1, 2, 3, 4, 5], 0.0)[1] == 3
    assert abs(binomial_sf(5, 10, 0.5) - 0.623046875) < 1e-12
    assert abs(chi_square_sf(16.919, 9) - 0.05) < 1e-3  # table value
    assert abs(chi_square_sf(2.0, 2) - 0.36787944) < 1e-6
    digits = last_digit_test(range(10, 110))
    assert digits["digits"] == [10] * 10 and digits["p_value"] == 1.0


@st.composite
def _kecamatans(draw: st.DrawFn) -> list[TpsResult]:
    seed = draw(st.integers(0, 10_000))
    return _kecamatan(seed=seed, desa=draw(st.integers(2, 6)), per_desa=draw(st.integers(2, 8)))


@settings(max_examples=60, deadline=None)
@given(_kecamatans(), st.randoms(use_true_random=False))
def test_screens_do_not_depend_on_order(rows: list[TpsResult], rnd: random.Random) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert screen_kecamatan(shuffled) == screen_kecamatan(rows)


@settings(max_examples=60, deadline=None)
@given(_kecamatans(), st.floats(0.05, 0.6))
def test_turnout_findings_point_the_right_way(rows: list[TpsResult], drop: float) -> None:
    """A TPS whose turnout is moved down is never reported as too high, and vice versa."""
    target = rows[0]
    low = replace(target, voters=max(0, round(target.voters * (1 - drop))))
    findings = screen_kecamatan([low, *rows[1:]])
    for f in findings:
        if f.tps == low.tps and f.code.startswith("TURNOUT_OUTLIER"):
            assert f.value["z"] < 0
    for f in findings:
        assert f.severity in set(Severity)
        assert f.pesan and f.message


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40), st.floats(0, 1), st.floats(0.001, 1))
def test_robust_z_is_scale_free_and_floored(values: list[float], x: float, floor: float) -> None:
    z, med, spread = robust_z(x, values, floor)
    assert spread >= floor
    assert abs(z * spread - (x - med)) < 1e-9


def test_moderate_stuffing_shows_as_turnout_and_one_line_both_high() -> None:
    rows = _kecamatan()
    victim = rows[9]
    votes = dict(victim.votes)
    added = round(victim.dpt * 0.93) - victim.voters  # to 93% turnout, all for no. 1
    stuffed = replace(
        victim,
        voters=victim.voters + added,
        suara_sah=victim.suara_sah + added,
        votes=(("c1", votes["c1"] + added), ("c2", votes["c2"]), ("c3", votes["c3"])),
    )
    findings = screen_kecamatan([stuffed if r.tps == victim.tps else r for r in rows])
    pattern = [f for f in findings if f.code == "STUFFING_PATTERN"]
    assert [f.tps for f in pattern] == [victim.tps]
    assert pattern[0].value["line"] == "c1"
    assert pattern[0].value["turnout_z"] > 1.5 and pattern[0].value["line_z"] > 1.5
