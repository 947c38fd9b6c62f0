"""Routes: silent TPS per area and contest (with the stalled mark) and the operators' activity.

Both name operators and their phone numbers, so they are for a camat (their kecamatan) or an
admin only (shared.policy): 403 for anyone else or outside the reader's area. The rules are
shared/silence.py and services/api/activity.py; the settings shared/silence_settings.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from services.api import tables
from services.api.activity import OperatorRow, Sent, activity_report
from services.api.deps import (
    ApiState,
    CurrentReviewer,
    StateDep,
    area_or_404,
    contest_or_404,
    election_or_404,
)
from services.api.downloads import FILE_DOC, KindPath, table_download
from services.api.errors import ApiError
from services.api.repository_silent import (
    fetch_field_operators,
    fetch_incident_counts,
    fetch_operators,
    fetch_received_under,
    fetch_submissions_under,
    fetch_tps_under,
)
from services.api.roster_cache import ElectionMeta
from services.api.schemas import error_responses
from services.api.views import WIB
from shared.events import OperatorRef, utcnow
from shared.policy import covers
from shared.silence import (
    AreaCount,
    Responsible,
    assess,
    last_progress,
    not_reported,
    received_series,
    responsible_for,
)
from shared.silence_settings import silence_settings

router = APIRouter(
    prefix="/v1", tags=["silent"], responses=error_responses(401, 403, 404, 422, 503)
)

# The chart lists at most 192 buckets (two days of 15 minutes); earlier results stay counted.
SERIES_MAX_BUCKETS = 2 * 24 * 4

_AREA_QUERY = Query(description="area code (kabupaten, kecamatan or desa); default: yours")


class OperatorContactPublic(BaseModel):
    """Who answers for a silent TPS, and how to reach them."""

    id: str
    name: str
    phone: str | None


class SilentTpsPublic(BaseModel):
    """A TPS whose result of the contest has not reached the desk."""

    tps: str
    desa_code: str
    desa: str | None
    kecamatan_code: str
    kecamatan: str | None
    operators: list[OperatorContactPublic]


class AreaSilencePublic(BaseModel):
    """Expected and received TPS of one area, and whether it has stalled."""

    code: str
    name: str | None
    level: str | None
    expected: int
    received: int
    missing: int
    progress: float
    complete: bool
    last_progress_at: datetime | None
    idle_s: float
    stalled: bool


class BucketPublic(BaseModel):
    """Results first received in [start, start + bucket) and the running total."""

    start: datetime
    received: int
    cumulative: int


class SilencePublic(BaseModel):
    """Silent TPS of an area and contest: the area, its sub-areas, the series, the list."""

    election: str
    contest: str
    at: datetime
    stall_minutes: float
    counting_hours: str
    bucket_minutes: int
    area: AreaSilencePublic
    children: list[AreaSilencePublic]
    series: list[BucketPublic]
    silent: list[SilentTpsPublic]


def _outside(code: str) -> ApiError:
    return ApiError(
        403,
        "SCOPE_OUTSIDE",
        f"Wilayah {code} di luar wilayah Anda.",
        f"Area {code} is outside your area.",
    )


def reader_area(
    state: ApiState, reader: OperatorRef, election: ElectionMeta, area: str | None
) -> str:
    """The area asked for (default: the reader's one scope area, else the election's home),
    which must exist for the election and lie inside the reader's scope."""
    if area is None:
        mine = [s for s in reader.scope if election.covers(s)]
        area = mine[0] if len(mine) == 1 else election.home_area
    code = area_or_404(state, election, area)
    if not covers(reader.scope, reader.role, code):
        raise _outside(code)
    return code


def _responsible(rows: Sequence[asyncpg.Record]) -> list[Responsible]:
    return [
        Responsible(r["id"], tuple(r["scope"]), r["phone"], r["name"])
        for r in rows
        if r["role"] == "operator"
    ]


async def silence_view(
    state: ApiState, election: ElectionMeta, contest: str, area: str
) -> SilencePublic:
    """The silent-TPS view of an area and contest as of now."""
    settings = silence_settings()
    policy = settings.stall_policy
    async with state.pool.acquire() as conn:
        tps_rows = await fetch_tps_under(conn, election=election.id, area=area)
        received_rows = await fetch_received_under(
            conn, election=election.id, contest=contest, area=area
        )
        operators = _responsible(await fetch_field_operators(conn))
    now = utcnow()
    first_at = {r["tps"]: r["first_at"] for r in received_rows}
    codes = [r["code"] for r in tps_rows]
    areas = state.roster.areas

    def name(code: str) -> str | None:
        found = areas.get(code)
        return found.name if found else None

    def judged(code: str) -> AreaSilencePublic:
        under = [t for t in codes if t.startswith(code + ".")]
        times = [first_at[t] for t in under if t in first_at]
        count = AreaCount(len(under), len(times), last_progress(times))
        status = assess(count, now, policy)
        found = areas.get(code)
        return AreaSilencePublic(
            code=code,
            name=found.name if found else None,
            level=found.level if found else None,
            expected=status.expected,
            received=status.received,
            missing=status.missing,
            progress=status.progress,
            complete=status.complete,
            last_progress_at=count.last_progress_at,
            idle_s=status.idle.total_seconds(),
            stalled=status.stalled,
        )

    children = [c for c in state.roster.children.get(area, ()) if election.covers(c)]
    silent = []
    for tps in not_reported(codes, first_at):
        desa = tps.rsplit(".", 1)[0]
        silent.append(
            SilentTpsPublic(
                tps=tps,
                desa_code=desa,
                desa=name(desa),
                kecamatan_code=tps[:8],
                kecamatan=name(tps[:8]),
                operators=[
                    OperatorContactPublic(id=o.id, name=o.name, phone=o.phone)
                    for o in responsible_for(tps, operators)
                ],
            )
        )
    series = received_series(
        sorted(first_at.values()), settings.bucket, until=now, max_buckets=SERIES_MAX_BUCKETS
    )
    return SilencePublic(
        election=election.id,
        contest=contest,
        at=now,
        stall_minutes=settings.stall_minutes,
        counting_hours=f"{settings.counting_start:%H:%M}-{settings.counting_end:%H:%M} WIB",
        bucket_minutes=settings.bucket_minutes,
        area=judged(area),
        children=[judged(c) for c in children],
        series=[
            BucketPublic(start=b.start, received=b.received, cumulative=b.cumulative)
            for b in series
        ],
        silent=silent,
    )


@router.get("/silent/{election}/{contest}", response_model=SilencePublic)
async def silent_tps(
    election: str,
    contest: str,
    state: StateDep,
    reader: CurrentReviewer,
    area: Annotated[str | None, _AREA_QUERY] = None,
) -> SilencePublic:
    """Expected vs received over time, the TPS not yet reported with their operators, and
    the stalled mark of the area and of each area below it."""
    meta = await election_or_404(state, election)
    contest_or_404(meta, contest)
    code = reader_area(state, reader, meta, area)
    return await silence_view(state, meta, contest, code)


SILENT_HEADER = (
    "kecamatan_code",
    "kecamatan",
    "desa_code",
    "desa",
    "tps",
    "contest",
    "operator_id",
    "operator",
    "phone",
)


def silent_table(view: SilencePublic) -> tables.Table:
    """The silent TPS as a table: one line per TPS and responsible operator."""
    rows: list[tuple[tables.Value, ...]] = []
    for s in view.silent:
        base = (s.kecamatan_code, s.kecamatan, s.desa_code, s.desa, s.tps, view.contest)
        for o in s.operators or [OperatorContactPublic(id="", name="", phone=None)]:
            rows.append((*base, o.id, o.name, o.phone))
    at = view.at.astimezone(WIB)
    title = (
        "TPS BELUM MELAPOR - DESK PEMILU (DATA INTERNAL)",
        f"{view.election} - {view.contest} - {view.area.name or ''} ({view.area.code})",
        f"{view.area.received} dari {view.area.expected} TPS masuk; per {at:%d-%m-%Y %H:%M} WIB",
    )
    return tables.Table(title=title, header=SILENT_HEADER, rows=tuple(rows), sheet_name="TPS diam")


@router.get(
    "/silent/{election}/{contest}/export.{kind}", response_class=Response, responses=FILE_DOC
)
async def export_silent(
    election: str,
    contest: str,
    kind: KindPath,
    state: StateDep,
    reader: CurrentReviewer,
    area: Annotated[str | None, _AREA_QUERY] = None,
) -> Response:
    """The silent TPS of an area and contest with their operators, as CSV or XLSX."""
    view = await silent_tps(election, contest, state, reader, area)
    name = f"tps-diam-{election}-{contest}-{view.area.code}"
    return await table_download(kind, name, silent_table(view))


# --- operators' activity -----------------------------------------------------------------


class OperatorActivityPublic(BaseModel):
    """One operator's work on the day (for the allowance and internet credit)."""

    operator_id: str
    name: str
    role: str
    scope: list[str]
    phone: str | None
    tps_sent: int
    pairs_sent: int
    contests: list[str]
    submissions: int
    first_send: datetime | None
    last_send: datetime | None
    sent_by_deadline: int
    share_by_deadline: float
    channels: list[str]
    rejections: int
    corrections: int
    incidents: int | None


class ActivityPublic(BaseModel):
    """The activity report of an area."""

    election: str
    area: str
    name: str | None
    deadline: datetime
    incidents_counted: bool
    operators: list[OperatorActivityPublic]


_DEADLINE_QUERY = Query(description="ISO 8601 instant; default: the configured deadline")


@router.get("/activity/{election}", response_model=ActivityPublic)
async def operator_activity(
    election: str,
    state: StateDep,
    reader: CurrentReviewer,
    area: Annotated[str | None, _AREA_QUERY] = None,
    deadline: Annotated[datetime | None, _DEADLINE_QUERY] = None,
) -> ActivityPublic:
    """Per operator: TPS and contests sent, first and last send, share sent by the deadline,
    channels, rejections, corrections and incidents reported."""
    meta = await election_or_404(state, election)
    code = reader_area(state, reader, meta, area)
    if deadline is not None and deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=WIB)
    cutoff = deadline or silence_settings().deadline_for(meta.date)
    async with state.pool.acquire() as conn:
        submissions = await fetch_submissions_under(conn, election=meta.id, area=code)
        operators = await fetch_operators(conn)
        incidents = await fetch_incident_counts(conn, election=meta.id, area=code)
    lines = activity_report(
        (
            Sent(
                r["operator_id"],
                r["contest"],
                r["tps"],
                r["channel"],
                r["status"],
                r["received_at"],
            )
            for r in submissions
        ),
        (
            OperatorRow(r["id"], r["name"], r["role"], tuple(r["scope"]), r["phone"])
            for r in operators
        ),
        area=code,
        deadline=cutoff,
        incidents=incidents,
    )
    found = state.roster.areas.get(code)
    return ActivityPublic(
        election=meta.id,
        area=code,
        name=found.name if found else None,
        deadline=cutoff,
        incidents_counted=incidents is not None,
        operators=[
            OperatorActivityPublic.model_validate(line, from_attributes=True) for line in lines
        ],
    )


ACTIVITY_HEADER = (
    "operator_id",
    "name",
    "role",
    "scope",
    "phone",
    "tps_sent",
    "tps_contests_sent",
    "contests",
    "submissions",
    "first_send",
    "last_send",
    "sent_by_deadline",
    "share_by_deadline",
    "channels",
    "rejections",
    "corrections",
    "incidents",
)


def activity_table(report: ActivityPublic) -> tables.Table:
    """The activity report as a table, one line per operator."""
    rows = tuple(
        (
            o.operator_id,
            o.name,
            o.role,
            " ".join(o.scope),
            o.phone,
            o.tps_sent,
            o.pairs_sent,
            " ".join(o.contests),
            o.submissions,
            tables.when(o.first_send),
            tables.when(o.last_send),
            o.sent_by_deadline,
            round(o.share_by_deadline, 4),
            " ".join(o.channels),
            o.rejections,
            o.corrections,
            o.incidents,
        )
        for o in report.operators
    )
    title = (
        "LAPORAN AKTIVITAS OPERATOR - DESK PEMILU (DATA INTERNAL)",
        f"{report.election} - {report.name or ''} ({report.area})",
        f"Batas waktu: {report.deadline.astimezone(WIB):%d-%m-%Y %H:%M} WIB",
    )
    return tables.Table(title=title, header=ACTIVITY_HEADER, rows=rows, sheet_name="Aktivitas")


@router.get("/activity/{election}/export.{kind}", response_class=Response, responses=FILE_DOC)
async def export_activity(
    election: str,
    kind: KindPath,
    state: StateDep,
    reader: CurrentReviewer,
    area: Annotated[str | None, _AREA_QUERY] = None,
    deadline: Annotated[datetime | None, _DEADLINE_QUERY] = None,
) -> Response:
    """The operators' activity report as CSV or XLSX."""
    report = await operator_activity(election, state, reader, area, deadline)
    name = f"aktivitas-{election}-{report.area}"
    return await table_download(kind, name, activity_table(report))
