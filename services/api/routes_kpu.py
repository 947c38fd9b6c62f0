"""Routes: the desk's count against KPU's published one ("Selisih dengan KPU"), and its exports.

KPU's figures come from the `kpu_*` tables (`deskpemilu kpu import`); the comparison itself is
shared/kpu/reconcile.py. Every route reads only and needs a reader's token, like the other reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.api import kpu_views, tables
from services.api.deps import CurrentViewer, StateDep, place_or_404
from services.api.downloads import FILE_DOC, KindPath, table_download
from services.api.errors import not_found
from services.api.kpu_views import (
    KpuSummaryPublic,
    KpuTpsDetailPublic,
    KpuTpsListPublic,
    KpuVersionPublic,
    RecapListPublic,
)
from services.api.routes_tps import TpsPath, tps_code_or_422
from services.api.schemas import READ_ERRORS
from shared.events import utcnow
from shared.kpu import repository as repo
from shared.kpu.reconcile import (
    AreaRollup,
    Tolerance,
    TpsComparison,
    compare_all,
    compare_recap,
    roll_up,
)
from shared.kpu.repository import KpuVersion

router = APIRouter(prefix="/v1", tags=["kpu"], responses=READ_ERRORS)
WIB = timezone(timedelta(hours=7), "WIB")
_AREA = Query(default=None, description="area code; the election's home area by default")


def tolerance(
    tolerance_votes: int = Query(default=0, ge=0, le=100_000),
    tolerance_sah: int = Query(default=0, ge=0, le=100_000),
    tolerance_tidak_sah: int = Query(default=0, ge=0, le=100_000),
    tolerance_pengguna: int = Query(default=0, ge=0, le=100_000),
) -> Tolerance:
    """Differences up to these sizes are not reported (0: all)."""
    return Tolerance(tolerance_votes, tolerance_sah, tolerance_tidak_sah, tolerance_pengguna)


ToleranceDep = Annotated[Tolerance, Depends(tolerance)]


@dataclass(frozen=True, slots=True)
class _Compared:
    election: str
    contest: str
    area: str
    items: list[TpsComparison]


async def _compare(
    state: StateDep, election: str, contest: str, area: str | None, tol: Tolerance
) -> _Compared:
    _, _, code = await place_or_404(state, election, contest, area)
    async with state.pool.acquire() as conn:
        reserve = await repo.fetch_reserve_pct(conn, election=election)
        frame = await repo.fetch_frame(conn, election=election, area=code)
        desk = await repo.fetch_desk(conn, election=election, contest=contest, area=code)
        kpu = await repo.fetch_kpu_current(conn, election=election, contest=contest, area=code)
    items = compare_all(frame, desk, kpu, reserve_pct=reserve or 0.0, tolerance=tol)
    return _Compared(election, contest, code, items)


def _summary(
    state: StateDep, compared: _Compared, child_parts: int | None = None
) -> KpuSummaryPublic:
    """The area's comparison and its children's: the level below it, or child_parts' level
    (the number of parts of a child's code: 3 kecamatan, 4 desa)."""
    snapshot = state.roster
    meta = snapshot.elections[compared.election]
    parts = len(compared.area.split("."))
    child_parts = parts + 1 if child_parts is None else child_parts
    total = roll_up(compared.items, parts).get(compared.area) or AreaRollup(compared.area)
    children = roll_up(compared.items, child_parts) if child_parts <= 4 else {}
    return KpuSummaryPublic(
        election=compared.election,
        contest=compared.contest,
        area=compared.area,
        area_name=snapshot.areas[compared.area].name,
        breadcrumb=kpu_views.breadcrumb_public(snapshot, compared.area),
        child_level=_LEVEL_OF_PARTS.get(child_parts),
        lines=kpu_views.lines_public(meta.contests[compared.contest]),
        total=kpu_views.area_public(snapshot, total),
        children=[kpu_views.area_public(snapshot, r) for r in children.values()],
    )


_LEVEL_OF_PARTS = {2: "kabko", 3: "kecamatan", 4: "desa"}


def _listing(state: StateDep, compared: _Compared, everything: bool) -> KpuTpsListPublic:
    snapshot = state.roster
    meta = snapshot.elections[compared.election]
    return KpuTpsListPublic(
        election=compared.election,
        contest=compared.contest,
        area=compared.area,
        lines=kpu_views.lines_public(meta.contests[compared.contest]),
        tps=[
            kpu_views.tps_public(snapshot, item)
            for item in compared.items
            if everything or kpu_views.has_finding(item)
        ],
    )


@router.get("/kpu/{election}/{contest}/summary", response_model=KpuSummaryPublic)
async def kpu_summary(
    election: str,
    contest: str,
    state: StateDep,
    _viewer: CurrentViewer,
    tol: ToleranceDep,
    area: str | None = _AREA,
) -> KpuSummaryPublic:
    """Per child area: TPS compared, matching, differing, missing, net vote difference per line."""
    return _summary(state, await _compare(state, election, contest, area, tol))


@router.get("/kpu/{election}/{contest}/tps", response_model=KpuTpsListPublic)
async def kpu_tps_list(
    election: str,
    contest: str,
    state: StateDep,
    _viewer: CurrentViewer,
    tol: ToleranceDep,
    area: str | None = _AREA,
    all_tps: Annotated[bool, Query(alias="all", description="also the matching TPS")] = False,
) -> KpuTpsListPublic:
    """The TPS under an area with a finding (every TPS with all=true), both sides' figures."""
    return _listing(state, await _compare(state, election, contest, area, tol), all_tps)


@router.get("/kpu/{election}/{contest}/tps/{tps}", response_model=KpuTpsDetailPublic)
async def kpu_tps_detail(
    election: str,
    contest: str,
    tps: TpsPath,
    state: StateDep,
    _viewer: CurrentViewer,
    tol: ToleranceDep,
) -> KpuTpsDetailPublic:
    """One TPS: the desk's and KPU's figures side by side, and everything KPU showed over time."""
    code = tps_code_or_422(tps)
    compared = await _compare(state, election, contest, code.rsplit(".", 1)[0], tol)
    item = next((i for i in compared.items if i.tps == code), None)
    if item is None:
        raise not_found(f"TPS {code} di {election}", f"TPS {code} in {election}")
    async with state.pool.acquire() as conn:
        history = await repo.fetch_kpu_history(conn, election=election, contest=contest, tps=code)
    meta = state.roster.elections[election]
    return KpuTpsDetailPublic(
        election=election,
        contest=contest,
        lines=kpu_views.lines_public(meta.contests[contest]),
        comparison=kpu_views.tps_public(state.roster, item),
        history=[_version_public(v) for v in history],
    )


@router.get("/kpu/{election}/{contest}/recap", response_model=RecapListPublic)
async def kpu_recap(
    election: str,
    contest: str,
    state: StateDep,
    _viewer: CurrentViewer,
    tol: ToleranceDep,
    area: str | None = _AREA,
) -> RecapListPublic:
    """KPU's D.Hasil per desa (`deskpemilu kpu recap`) against the desk's sums, under an area."""
    _, contest_meta, code = await place_or_404(state, election, contest, area)
    async with state.pool.acquire() as conn:
        frame = await repo.fetch_frame(conn, election=election, area=code)
        desk = await repo.fetch_desk(conn, election=election, contest=contest, area=code)
        recap = await repo.fetch_recap_current(conn, election=election, contest=contest, area=code)
    return RecapListPublic(
        election=election,
        contest=contest,
        area=code,
        lines=kpu_views.lines_public(contest_meta),
        desa=[
            kpu_views.recap_public(state.roster, item)
            for item in compare_recap(frame, desk, recap, tolerance=tol)
        ],
    )


def _version_public(version: KpuVersion) -> KpuVersionPublic:
    side = kpu_views.kpu_side(version.data)
    assert side is not None
    return KpuVersionPublic(seen_at=version.seen_at, origin=version.origin, kpu=side)


_LEVEL = Query(default="kecamatan", pattern="^(kecamatan|desa|tps)$",
               description="rows: kecamatan or desa roll-ups, or one per TPS")  # fmt: skip


async def _export(
    state: StateDep, election: str, contest: str, area: str | None, level: str, tol: Tolerance
) -> tuple[tables.Table, str]:
    compared = await _compare(state, election, contest, area, tol)
    name = state.roster.areas[compared.area].name
    title = [
        f"Selisih dengan KPU: {election} {contest}, {name} ({compared.area})",
        f"Dibuat {utcnow().astimezone(WIB):%Y-%m-%d %H:%M} WIB; angka KPU dari Sirekap "
        "sebagaimana diimpor; selisih = KPU - desk",
    ]
    if level == "tps":
        sheet = kpu_views.tps_table(_listing(state, compared, everything=True), title)
    else:
        summary = _summary(state, compared, child_parts={"kecamatan": 3, "desa": 4}[level])
        sheet = kpu_views.area_table(summary, title)
    return sheet, f"selisih-kpu-{election}-{contest}-{compared.area}-{level}"


@router.get("/exports/kpu/{election}/{contest}.{kind}", response_class=Response, responses=FILE_DOC)
async def kpu_export(
    election: str,
    contest: str,
    kind: KindPath,
    state: StateDep,
    _viewer: CurrentViewer,
    tol: ToleranceDep,
    area: str | None = _AREA,
    level: str = _LEVEL,
) -> Response:
    """The comparison as CSV or as an XLSX workbook: per kecamatan, desa or TPS."""
    sheet, name = await _export(state, election, contest, area, level, tol)
    return await table_download(kind, name, sheet)
