"""The release gate with a fixed clock, and the dashboard's sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.api.quickcount import (
    QuickCountSettings,
    Visibility,
    release_moment,
    sentence,
    visibility,
)
from shared.events import Role
from shared.quickcount import Estimate, Figure, Lead


def test_release_is_15_wib_on_the_election_date_by_default() -> None:
    at = release_moment(date(2024, 2, 14), QuickCountSettings())
    assert at == datetime(2024, 2, 14, 8, 0, tzinfo=UTC)


def test_the_release_moment_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUICKCOUNT_RELEASE_TIME", "16:30")
    monkeypatch.setenv("QUICKCOUNT_TIMEZONE", "Asia/Makassar")
    settings = QuickCountSettings()
    assert settings.release_time == time(16, 30)
    assert release_moment(date(2024, 11, 27), settings) == datetime(2024, 11, 27, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "role", "seen"),
    [
        (timedelta(seconds=-1), Role.VIEWER, Visibility.HIDDEN),
        (timedelta(seconds=-1), Role.CAMAT, Visibility.HIDDEN),
        (timedelta(seconds=-1), Role.ADMIN, Visibility.EMBARGOED),
        (timedelta(0), Role.VIEWER, Visibility.FULL),
        (timedelta(hours=5), Role.OPERATOR, Visibility.FULL),
        (timedelta(0), Role.ADMIN, Visibility.FULL),
    ],
)
def test_the_gate_at_a_fixed_clock(offset: timedelta, role: Role, seen: str) -> None:
    release = release_moment(date(2024, 2, 14), QuickCountSettings())
    assert visibility(release + offset, release, role) == seen


def _estimate(difference: float, se: float) -> Estimate:
    return Estimate(
        method="stratified_ratio", reports=10,
        shares=(Figure("c1", 0.3, 0.01), Figure("c2", 0.3 + difference, 0.01)),
        turnout=Figure("turnout", 0.8, 0.01), lead=Lead("c2", "c1", difference, se), groups=(),
        strata_without_reports=(),
    )  # fmt: skip


def test_the_sentence_says_who_leads_or_that_it_is_too_close() -> None:
    assert sentence(_estimate(0.431, 0.0122)) == (
        "02 unggul 43,1 poin atas 01 (± 2,4; keyakinan 95%)."
    )
    close = sentence(_estimate(0.01, 0.02))
    assert close.startswith("Belum dapat dipastikan: 02 dan 01 selisih 1,0 poin")
    assert sentence(None) == "Belum ada cukup laporan TPS sampel."
