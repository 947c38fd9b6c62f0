"""The quick count as the API shows it: release gate and the public view (pure, no I/O).

The estimators are in shared/quickcount.py; this module decides who may see them when, turns
stored rows into estimator input, and writes the one Indonesian sentence for the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.api.roster_cache import ContestMeta, ElectionMeta, RosterSnapshot
from services.api.schemas import (
    QuickCountEstimate,
    QuickCountFigure,
    QuickCountLead,
    QuickCountMethod,
    QuickCountProgress,
    QuickCountPublic,
    QuickCountSample,
    QuickCountStratum,
)
from shared.events import Role
from shared.quickcount import (
    MIN_REPORTS_PER_GROUP,
    Z95,
    Z99,
    Estimate,
    Figure,
    Report,
    StratumFrame,
    partial_count_estimate,
    raw_shares,
    sample_estimate,
)

BANNER = "TIDAK UNTUK DIPUBLIKASIKAN sebelum {at} / not for release before {at}"
MERGE_RULE = (
    "strata in code order; a group with fewer than 2 reports is merged into the next one "
    "(the last into the one before it)"
)


class QuickCountSettings(BaseSettings):
    """When estimates may be shown: QUICKCOUNT_RELEASE_TIME on the election date, local time."""

    model_config = SettingsConfigDict(env_prefix="QUICKCOUNT_", extra="ignore", frozen=True)

    release_time: time = time(15, 0)  # 15:00 WIB, the rule in force in 2024
    timezone: str = "Asia/Jakarta"


@cache
def quickcount_settings() -> QuickCountSettings:
    """The settings, read once per process."""
    return QuickCountSettings()


def release_moment(election_date: date, settings: QuickCountSettings) -> datetime:
    """The moment from which anyone may see the estimates."""
    return datetime.combine(election_date, settings.release_time, ZoneInfo(settings.timezone))


class Visibility:
    """What a reader sees: everything, everything under a banner, or progress only."""

    FULL = "full"
    EMBARGOED = "embargoed"  # an admin before the release moment
    HIDDEN = "hidden"  # anyone else before the release moment


def visibility(now: datetime, release_at: datetime, role: Role) -> str:
    """The release gate: before release_at only admins see estimates, under a banner."""
    if now >= release_at:
        return Visibility.FULL
    return Visibility.EMBARGOED if role is Role.ADMIN else Visibility.HIDDEN


@dataclass(frozen=True)
class ReportedRow:
    """One counted TPS result as the repository gives it."""

    tps: str
    votes: Mapping[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int | None
    dpt: int
    in_sample: bool


def strata_of(
    snapshot: RosterSnapshot, election: ElectionMeta, area: str
) -> tuple[list[StratumFrame], int]:
    """The strata under an area (its kecamatan; the area itself below that) and their depth."""
    level = snapshot.areas[area].level
    if level in ("kecamatan", "desa"):
        cov = election.coverage[area]
        return [StratumFrame(area, cov.tps, cov.dpt)], len(area.split("."))
    frames = [
        StratumFrame(code, election.coverage[code].tps, election.coverage[code].dpt)
        for code, a in snapshot.areas.items()
        if a.level == "kecamatan" and code.startswith(area + ".") and code in election.coverage
    ]
    return sorted(frames, key=lambda s: s.code), 3


def _report(row: ReportedRow, depth: int) -> Report:
    voters = row.pengguna if row.pengguna is not None else row.suara_sah + row.suara_tidak_sah
    return Report(
        tps=row.tps,
        stratum=".".join(row.tps.split(".")[:depth]),
        dpt=row.dpt,
        voters=voters,
        suara_sah=row.suara_sah,
        votes=row.votes,
    )


def _pct(x: float) -> str:
    return f"{x * 100:.1f}".replace(".", ",")


def _label(key: str) -> str:
    number = int(key[1:])
    return f"{number:02d}" if key[0] == "c" else f"partai {number}"


def sentence(est: Estimate | None) -> str:
    """One Indonesian sentence: who leads by how much, or that it cannot be said yet."""
    if est is None or est.lead is None:
        return "Belum ada cukup laporan TPS sampel."
    lead = est.lead
    if not lead.decided95:
        return (
            f"Belum dapat dipastikan: {_label(lead.leader)} dan {_label(lead.runner_up)} "
            f"selisih {_pct(lead.difference)} poin (± {_pct(Z95 * lead.se)}; keyakinan 95%)."
        )
    return (
        f"{_label(lead.leader)} unggul {_pct(lead.difference)} poin atas "
        f"{_label(lead.runner_up)} (± {_pct(Z95 * lead.se)}; keyakinan 95%)."
    )


def _figure(fig: Figure, name: str) -> QuickCountFigure:
    low95, high95 = fig.interval(Z95)
    low99, high99 = fig.interval(Z99)
    return QuickCountFigure(
        key=fig.key, name=name, share=fig.value, se=fig.se, margin95=fig.margin95,
        low95=max(0.0, low95), high95=min(1.0, high95), low99=max(0.0, low99),
        high99=min(1.0, high99),
    )  # fmt: skip


def _estimate(
    est: Estimate | None, contest: ContestMeta, raw: Mapping[str, float] | None
) -> QuickCountEstimate | None:
    if est is None:
        return None
    names = {line.key: line.name for line in contest.lines}
    lead = None
    if est.lead is not None:
        low, high = est.lead.interval(Z95)
        lead = QuickCountLead(
            leader=est.lead.leader, runner_up=est.lead.runner_up,
            difference=est.lead.difference, se=est.lead.se, low95=low, high95=high,
            decided95=est.lead.decided95, decided99=est.lead.decided99,
        )  # fmt: skip
    return QuickCountEstimate(
        method=est.method,
        reports=est.reports,
        lines=[_figure(f, names.get(f.key, f.key)) for f in est.shares],
        turnout=_figure(est.turnout, "partisipasi"),
        lead=lead,
        merged_groups=[list(g.strata) for g in est.groups if len(g.strata) > 1],
        strata_without_reports=list(est.strata_without_reports),
        sentence=sentence(est),
        raw_shares=dict(raw) if raw is not None else None,
    )


def quickcount_view(
    *,
    snapshot: RosterSnapshot,
    election: ElectionMeta,
    contest: ContestMeta,
    area: str,
    rows: Sequence[ReportedRow],
    sample: QuickCountSample | None,
    drawn_per_stratum: Mapping[str, int],
    now: datetime,
    release_at: datetime,
    role: Role,
) -> QuickCountPublic:
    """The whole answer of GET /v1/quickcount: progress always, estimates past the gate."""
    frame, depth = strata_of(snapshot, election, area)
    lines = [line.key for line in contest.lines]
    reports = [_report(r, depth) for r in rows]
    in_sample = [rep for rep, row in zip(reports, rows, strict=True) if row.in_sample]
    seen = visibility(now, release_at, role)
    reported_per: dict[str, int] = {}
    sample_per: dict[str, int] = {}
    for rep, row in zip(reports, rows, strict=True):
        reported_per[rep.stratum] = reported_per.get(rep.stratum, 0) + 1
        if row.in_sample:
            sample_per[rep.stratum] = sample_per.get(rep.stratum, 0) + 1
    strata = [
        QuickCountStratum(
            code=s.code,
            name=snapshot.areas[s.code].name,
            tps_total=s.tps,
            dpt=s.dpt,
            tps_reported=reported_per.get(s.code, 0),
            sample_drawn=drawn_per_stratum.get(s.code, 0),
            sample_reported=sample_per.get(s.code, 0),
        )
        for s in frame
    ]
    quick = partial = None
    if seen != Visibility.HIDDEN:
        if sample is not None:
            quick = _estimate(sample_estimate(in_sample, frame, lines), contest, None)
        partial = _estimate(
            partial_count_estimate(reports, frame, lines), contest, raw_shares(reports, lines)
        )
    at = release_at.strftime("%d-%m-%Y %H:%M %Z")
    return QuickCountPublic(
        election=election.id,
        contest=contest.contest,
        area=area,
        area_name=snapshot.areas[area].name,
        computed_at=now,
        release_at=release_at,
        released=seen == Visibility.FULL,
        banner=BANNER.format(at=at) if seen == Visibility.EMBARGOED else None,
        method=QuickCountMethod(
            estimator="stratified combined ratio estimator, TPS as clusters",
            strata="kecamatan" if depth == 3 else "area",
            weights="DPT (ratio to the DPT within each stratum)",
            finite_population_correction=True,
            confidence=[0.95, 0.99],
            min_reports_per_stratum=MIN_REPORTS_PER_GROUP,
            merge_rule=MERGE_RULE,
        ),
        sample=sample,
        progress=QuickCountProgress(
            sample_drawn=sum(drawn_per_stratum.get(s.code, 0) for s in frame),
            sample_reported=len(in_sample),
            tps_total=sum(s.tps for s in frame),
            tps_reported=len(reports),
            strata=strata,
        ),
        quick_count=quick,
        partial_count=partial,
    )
