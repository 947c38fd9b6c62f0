"""Routes: a contest's recap sheet by kecamatan, desa or TPS, as CSV or XLSX."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from services.api import exports
from services.api.deps import (
    CurrentViewer,
    StateDep,
    place_or_404,
)
from services.api.downloads import FILE_DOC, KindPath, download
from services.api.errors import ApiError
from services.api.exports import RecapColumn, RecapLevel, RecapRow, RecapSheet
from services.api.repository import fetch_area_sums, fetch_tps_under
from services.api.roster_cache import ContestMeta, ElectionMeta, RosterSnapshot
from services.api.schemas import error_responses
from services.api.views import WIB
from shared.events import utcnow
from shared.hotpath import HotRoute

router = APIRouter(
    prefix="/v1/exports",
    tags=["exports"],
    route_class=HotRoute,
    responses=error_responses(401, 404, 422, 503, 413),
)

_LEVEL_DEPTH = {"provinsi": 1, "kabko": 2, "kecamatan": 3, "desa": 4, "tps": 5}


def codes_at_level(
    snapshot: RosterSnapshot, election: ElectionMeta, area_code: str, level: str
) -> list[str]:
    """Areas of a level under an area (the area itself if it is that level), with TPS only."""
    frontier = [area_code]
    while frontier and snapshot.areas[frontier[0]].level != level:
        frontier = [
            child
            for code in frontier
            for child in snapshot.children.get(code, ())
            if child in election.coverage
        ]
    return frontier


def _columns(contest: ContestMeta) -> tuple[RecapColumn, ...]:
    return tuple(
        RecapColumn(line.key, f"{line.nomor:02d} {line.short_name}") for line in contest.lines
    )


def _name(snapshot: RosterSnapshot, code: str) -> str:
    area = snapshot.areas.get(code)
    return area.name if area else ""


async def build_sheet(
    state: StateDep,
    election: ElectionMeta,
    contest: ContestMeta,
    area_code: str,
    level: RecapLevel,
) -> RecapSheet:
    """Fetch the rows of a recap and lay them out."""
    snapshot = state.roster
    area = snapshot.areas[area_code]
    if _LEVEL_DEPTH[level.value] <= _LEVEL_DEPTH[area.level]:
        raise ApiError(
            422,
            "LEVEL_NOT_BELOW_AREA",
            f"Tingkat {level.value} harus di bawah {area.level} {area.name}.",
            f"Level {level.value} must be below {area.level} {area.name}.",
        )
    rows: list[RecapRow] = []
    async with state.pool.acquire() as conn:
        if level is RecapLevel.TPS:
            records = await fetch_tps_under(
                conn, election=election.id, contest=contest.contest, area_code=area_code
            )
            for r in records:
                reported = r["submission_id"] is not None
                rows.append(
                    RecapRow(
                        code=r["code"],
                        name=f"TPS {r['number']:03d}",
                        kecamatan=_name(snapshot, r["code"][:8]),
                        desa=_name(snapshot, r["desa_code"]),
                        votes=dict(r["votes"] or {}),
                        suara_sah=r["suara_sah"] or 0,
                        suara_tidak_sah=r["suara_tidak_sah"] or 0,
                        pengguna=r["pengguna"] or 0,
                        dpt=r["dpt"] or 0,
                        tps_reported=int(reported),
                        tps_total=1,
                        status=r["status"] or "",
                    )
                )
        else:
            codes = codes_at_level(snapshot, election, area_code, level.value)
            sums = await fetch_area_sums(
                conn, election=election.id, contest=contest.contest, area_codes=codes
            )
            for code in codes:
                s = sums.get(code)
                coverage = election.coverage[code]
                rows.append(
                    RecapRow(
                        code=code,
                        name=_name(snapshot, code),
                        kecamatan=_name(snapshot, code[:8]),
                        desa="",
                        votes=s.votes if s else {},
                        suara_sah=s.suara_sah if s else 0,
                        suara_tidak_sah=s.suara_tidak_sah if s else 0,
                        pengguna=s.pengguna if s else 0,
                        dpt=coverage.dpt,
                        tps_reported=s.tps_reported if s else 0,
                        tps_total=coverage.tps,
                    )
                )
    if len(rows) > state.settings.export_max_rows:
        raise ApiError(
            413,
            "EXPORT_TOO_LARGE",
            "Terlalu banyak baris; pilih wilayah yang lebih kecil.",
            "Too many rows; choose a smaller area.",
        )
    now = utcnow().astimezone(WIB)
    title = (
        "REKAPITULASI HASIL PENGHITUNGAN SUARA - DATA INTERNAL DESK PEMILU (BUKAN HASIL RESMI KPU)",
        f"{election.name} - {contest.name}",
        f"Wilayah: {area.name} ({area.code}), per {level.value}",
        f"Dicetak: {now:%d-%m-%Y %H:%M} WIB",
    )
    return RecapSheet(title=title, level=level, columns=_columns(contest), rows=tuple(rows))


async def _export(
    state: StateDep, election: str, contest: str, level: RecapLevel, area: str | None
) -> tuple[RecapSheet, str]:
    election_meta, contest_meta, area_code = await place_or_404(state, election, contest, area)
    sheet = await build_sheet(state, election_meta, contest_meta, area_code, level)
    return sheet, f"rekap-{election}-{contest}-{area_code}-{level.value}"


_LEVEL_QUERY = Query(default=RecapLevel.KECAMATAN, description="rows: kecamatan, desa or tps")
_AREA_QUERY = Query(default=None, description="area code; the election's home area by default")


@router.get("/{election}/{contest}.{kind}", response_class=Response, responses=FILE_DOC)
async def export_recap(
    election: str,
    contest: str,
    kind: KindPath,
    state: StateDep,
    _viewer: CurrentViewer,
    level: RecapLevel = _LEVEL_QUERY,
    area: str | None = _AREA_QUERY,
) -> Response:
    """The recap as CSV (header, one line per area or TPS, a JUMLAH line) or as an XLSX
    workbook laid out like a recap sheet."""
    sheet, name = await _export(state, election, contest, level, area)
    return await download(kind, name, sheet, exports.to_csv, exports.to_xlsx)
