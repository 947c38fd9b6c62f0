"""The accuracy harness on Banyuasin PPWP, two simulated days (the full run: docs/ANOMALIES.md).

The days are seeded, so the figures are the same on every run; the bounds sit below the
documented many-day figures by more than two days' sampling spread, so a change in the screens
or the simulator that loses real recall (or adds false positives) fails here.
"""

from __future__ import annotations

from deskpemilu.quickcount.rosters import known_folders, roster_from_folder
from deskpemilu.simulator.detection import measure
from deskpemilu.simulator.manipulation import Manipulation


def test_two_days_on_banyuasin_ppwp_meet_the_targets_with_a_margin() -> None:
    roster = roster_from_folder(known_folders()["pemilu-2024"])
    report = measure(roster, days=2, seed=1)
    kinds = report.kinds
    assert all(kinds[k].injected >= 30 for k in Manipulation)
    assert kinds[Manipulation.STUFFING].flagged / kinds[Manipulation.STUFFING].accepted >= 0.8
    assert kinds[Manipulation.COPIED].flagged / kinds[Manipulation.COPIED].accepted >= 0.85
    assert kinds[Manipulation.SHIFTED].flagged / kinds[Manipulation.SHIFTED].accepted >= 0.5
    assert kinds[Manipulation.MISREAD].flagged / kinds[Manipulation.MISREAD].accepted >= 0.5
    assert report.clean > 4500
    assert report.false_positive_rate <= 0.02
    assert report.clean_rejected == 0  # the simulator's true forms all pass the validator
