"""Pure assembly of API responses from fetched rows and the cached roster (no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeAlias

import asyncpg

from services.api.repository import AreaSums, TpsRows, empty_sums
from services.api.roster_cache import Area, ContestMeta, Coverage, ElectionMeta, RosterSnapshot
from services.api.schemas import (
    AnomalyPublic,
    AreaChildPublic,
    AreaNodePublic,
    AreaPublic,
    AreaResultPublic,
    ChildResultPublic,
    ConflictPublic,
    ContestPublic,
    DecisionPublic,
    ElectionPublic,
    LineTotalPublic,
    ProgressPublic,
    RivalPublic,
    SubmissionPublic,
    TpsDetailPublic,
    TpsResultPublic,
    VersionPublic,
    VoteLinePublic,
)
from shared.db import from_row

# A fetched record or a plain dict (unit tests): both index by column name.
Row: TypeAlias = Mapping[str, Any] | asyncpg.Record

CHILD_LEVEL = {"provinsi": "kabko", "kabko": "kecamatan", "kecamatan": "desa", "desa": "tps"}


def pct(part: int, whole: int) -> float:
    """part / whole in percent, two decimals; 0 when whole is 0."""
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def area_public(area: Area) -> AreaPublic:
    """An area as the API shows it."""
    return AreaPublic(
        code=area.code,
        level=area.level,
        name=area.name,
        parent_code=area.parent_code,
        kind=area.kind,
    )


def lines_public(contest: ContestMeta) -> list[VoteLinePublic]:
    """The vote lines of a contest."""
    return [
        VoteLinePublic(
            key=x.key, nomor=x.nomor, name=x.name, short_name=x.short_name, generated=x.generated
        )
        for x in contest.lines
    ]


def contest_public(contest: ContestMeta) -> ContestPublic:
    """A contest with its lines."""
    return ContestPublic(
        contest=contest.contest,
        name=contest.name,
        party_list=contest.party_list,
        lines=lines_public(contest),
    )


WIB = timezone(timedelta(hours=7), "WIB")  # Banyuasin's time zone: its election days


def opening_election(
    elections: Sequence[ElectionMeta], last_activity: Mapping[str, datetime], today: date
) -> str | None:
    """Where a dashboard opens: latest activity, else held today, else the first (newest date)."""
    active = [e for e in elections if e.id in last_activity]
    if active:
        return max(active, key=lambda e: last_activity[e.id]).id
    candidates = [e for e in elections if e.date == today] or list(elections)
    return candidates[0].id if candidates else None


def election_public(
    election: ElectionMeta, last_activity_at: datetime | None = None
) -> ElectionPublic:
    """An election with its contests and roster size."""
    return ElectionPublic(
        id=election.id,
        kind=election.kind,
        name=election.name,
        date=election.date,
        home_area=election.home_area,
        top_areas=list(election.top_areas),
        tps_total=sum(election.coverage[c].tps for c in election.top_areas),
        dpt_total=sum(election.coverage[c].dpt for c in election.top_areas),
        contests=[contest_public(c) for c in election.contests.values()],
        last_activity_at=last_activity_at,
    )


def area_node(
    snapshot: RosterSnapshot, area_code: str, election: ElectionMeta | None
) -> AreaNodePublic:
    """An area with its breadcrumb and children (only those with TPS when an election is given)."""
    children = []
    for code in snapshot.children.get(area_code, ()):
        coverage = election.coverage.get(code) if election else None
        if election is not None and coverage is None:
            continue
        child = snapshot.areas[code]
        children.append(
            AreaChildPublic(
                code=child.code,
                level=child.level,
                name=child.name,
                parent_code=child.parent_code,
                kind=child.kind,
                tps_total=coverage.tps if coverage else 0,
                dpt_total=coverage.dpt if coverage else 0,
            )
        )
    return AreaNodePublic(
        area=area_public(snapshot.areas[area_code]),
        breadcrumb=[area_public(a) for a in snapshot.breadcrumb(area_code)],
        children=children,
    )


def progress(sums: AreaSums, coverage: Coverage | None) -> ProgressPublic:
    """Progress of an area: the roster's TPS and DPT are the denominators."""
    # The tps table is the truth for the roster; area_summary's copy is the fallback.
    tps_total = coverage.tps if coverage and coverage.tps else sums.tps_total
    dpt_total = coverage.dpt if coverage and coverage.dpt else sums.dpt_total
    return ProgressPublic(
        tps_reported=sums.tps_reported,
        tps_total=tps_total,
        tps_pct=pct(sums.tps_reported, tps_total),
        dpt_reported=sums.dpt_reported,
        dpt_total=dpt_total,
        dpt_pct=pct(sums.dpt_reported, dpt_total),
    )


def _tps_name(number: int) -> str:
    return f"TPS {number:03d}" + (" (lokasi khusus)" if number >= 900 else "")


def _tps_child(row: Row) -> ChildResultPublic:
    reported = row["submission_id"] is not None
    dpt = int(row["dpt"] or 0)
    return ChildResultPublic(
        code=row["code"],
        name=_tps_name(row["number"]),
        level="tps",
        votes=dict(row["votes"] or {}),
        suara_sah=row["suara_sah"] or 0,
        suara_tidak_sah=row["suara_tidak_sah"] or 0,
        pengguna=row["pengguna"] or 0,
        progress=ProgressPublic(
            tps_reported=int(reported),
            tps_total=1,
            tps_pct=100.0 if reported else 0.0,
            dpt_reported=dpt if reported else 0,
            dpt_total=dpt,
            dpt_pct=100.0 if reported and dpt else 0.0,
        ),
        updated_at=row["updated_at"],
        status=row["status"],
        version=row["version"],
        channel=row["channel"],
    )


def child_codes(snapshot: RosterSnapshot, election: ElectionMeta, area_code: str) -> list[str]:
    """Children of an area that hold TPS of the election, in code order."""
    return [c for c in snapshot.children.get(area_code, ()) if c in election.coverage]


def area_result(
    *,
    snapshot: RosterSnapshot,
    election: ElectionMeta,
    contest: ContestMeta,
    area_code: str,
    sums: Mapping[str, AreaSums],
    tps_rows: Sequence[Row] = (),
) -> AreaResultPublic:
    """A contest's result at an area with one row per child area, or per TPS under a desa."""
    area = snapshot.areas[area_code]
    own = sums.get(area_code, empty_sums())
    if area.level == "desa":
        children = [_tps_child(r) for r in tps_rows]
    else:
        children = []
        for code in child_codes(snapshot, election, area_code):
            child, child_sums = snapshot.areas[code], sums.get(code, empty_sums())
            children.append(
                ChildResultPublic(
                    code=code,
                    name=child.name,
                    level=child.level,
                    votes=child_sums.votes,
                    suara_sah=child_sums.suara_sah,
                    suara_tidak_sah=child_sums.suara_tidak_sah,
                    pengguna=child_sums.pengguna,
                    progress=progress(child_sums, election.coverage.get(code)),
                    updated_at=child_sums.updated_at,
                )
            )
    cast = own.suara_sah + own.suara_tidak_sah
    return AreaResultPublic(
        election=election.id,
        contest=contest.contest,
        contest_name=contest.name,
        area=area_public(area),
        breadcrumb=[area_public(a) for a in snapshot.breadcrumb(area_code)],
        child_level=CHILD_LEVEL.get(area.level),
        lines=lines_public(contest),
        totals=[
            LineTotalPublic(
                key=line.key,
                nomor=line.nomor,
                name=line.name,
                short_name=line.short_name,
                votes=own.votes.get(line.key, 0),
                pct=pct(own.votes.get(line.key, 0), own.suara_sah),
            )
            for line in contest.lines
        ],
        suara_sah=own.suara_sah,
        suara_tidak_sah=own.suara_tidak_sah,
        jumlah_suara=cast,
        pengguna=own.pengguna,
        turnout_pct=pct(cast, own.dpt_reported),
        progress=progress(own, election.coverage.get(area_code)),
        updated_at=own.updated_at,
        children=children,
    )


def form_votes(form: Mapping[str, Any]) -> dict[str, int]:
    """Vote lines of a stored form, as CHasil.votes_by_candidate would give them."""
    if form.get("suara_partai"):
        return {f"p{p['nomor_partai']}": int(p["jumlah"]) for p in form["suara_partai"]}
    return {f"c{no}": int(v) for no, v in (form.get("suara_calon") or {}).items()}


def _area_names(snapshot: RosterSnapshot, tps: str) -> tuple[str | None, str | None]:
    desa = snapshot.areas.get(tps.rsplit(".", 1)[0])
    kecamatan = snapshot.areas.get(".".join(tps.split(".")[:3]))
    return (desa.name if desa else None, kecamatan.name if kecamatan else None)


def anomaly_public(snapshot: RosterSnapshot, row: Row) -> AnomalyPublic:
    """An anomaly with the names of its desa and kecamatan."""
    desa, kecamatan = _area_names(snapshot, row["tps"])
    return from_row(
        AnomalyPublic, row, desa=desa, kecamatan=kecamatan, detail=dict(row["detail"] or {})
    )


def conflict_public(snapshot: RosterSnapshot, row: Row) -> ConflictPublic:
    """A disputed TPS with its rival versions."""
    desa, kecamatan = _area_names(snapshot, row["tps"])
    rivals = [
        from_row(RivalPublic, r, votes=form_votes(r["form"]), suara_sah=r["form"].get("suara_sah"))
        for r in row["rivals"]
    ]
    return from_row(ConflictPublic, row, desa=desa, kecamatan=kecamatan, rivals=rivals)


def tps_detail(
    *,
    snapshot: RosterSnapshot,
    election: ElectionMeta,
    contest: ContestMeta,
    tps: str,
    rows: TpsRows,
) -> TpsDetailPublic:
    """Everything about one contest at one TPS."""
    assert rows.roster is not None
    result = rows.result
    counted = result["submission_id"] if result else None
    return TpsDetailPublic(
        election=election.id,
        contest=contest.contest,
        contest_name=contest.name,
        tps=tps,
        number=rows.roster["number"],
        dpt=rows.roster["dpt"],
        special=rows.roster["special"],
        breadcrumb=[area_public(a) for a in snapshot.breadcrumb(tps.rsplit(".", 1)[0])],
        lines=lines_public(contest),
        result=None if result is None else from_row(TpsResultPublic, result),
        submissions=[
            from_row(
                SubmissionPublic,
                s,
                counted=s["submission_id"] == counted,
                votes=form_votes(s["form"]),
                suara_sah=s["form"].get("suara_sah"),
                suara_tidak_sah=s["form"].get("suara_tidak_sah"),
                violations=list(s["violations"] or []),
            )
            for s in rows.submissions
        ],
        versions=[
            from_row(VersionPublic, v, votes=dict(v["votes"]) if v["votes"] is not None else None)
            for v in rows.versions
        ],
        decisions=[from_row(DecisionPublic, d) for d in rows.decisions],
        anomalies=[anomaly_public(snapshot, a) for a in rows.anomalies],
    )
