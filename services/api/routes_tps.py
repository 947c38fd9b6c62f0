"""Routes: one TPS with every version of its form, and the review queue (conflicts, anomalies)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from services.api import views
from services.api.deps import (
    CurrentViewer,
    StateDep,
    ViewerDep,
    cached_json,
    checked_or_404,
    contest_or_404,
    election_or_404,
)
from services.api.errors import ApiError, not_found
from services.api.repository import (
    fetch_anomalies,
    fetch_conflicts,
    fetch_in_sample,
    fetch_tps_rows,
)
from services.api.schemas import (
    READ_ERRORS,
    AnomalyListPublic,
    ConflictListPublic,
    TpsDetailPublic,
)
from shared.form import TPS_CODE_PATTERN, normalise_tps_code
from shared.hotpath import HotRoute

router = APIRouter(prefix="/v1", tags=["tps"], route_class=HotRoute, responses=READ_ERRORS)


# Checked by tps_code_or_422 (422 TPS_CODE_INVALID); the pattern documents the same rule.
TpsPath = Annotated[str, Path(json_schema_extra={"pattern": TPS_CODE_PATTERN})]


def tps_code_or_422(value: str) -> str:
    """A TPS code in dotted form (the 13-digit KPU form is accepted too)."""
    try:
        return normalise_tps_code(value)
    except ValueError as exc:
        raise ApiError(
            422,
            "TPS_CODE_INVALID",
            "Kode TPS harus seperti 16.07.01.1016.001.",
            "A TPS code looks like 16.07.01.1016.001.",
        ) from exc


@router.get("/tps/{election}/{contest}/{tps}", response_model=TpsDetailPublic)
async def tps_detail(
    election: str,
    contest: str,
    tps: TpsPath,
    request: Request,
    viewer: ViewerDep,
) -> Response:
    """The counted version, every submission with sender and channel, decisions and anomalies."""
    state = viewer.state
    election_meta = await election_or_404(state, election)
    contest_meta = contest_or_404(election_meta, contest)
    code = tps_code_or_422(tps)
    snapshot = state.roster

    async def load() -> TpsDetailPublic:
        async with state.pool.acquire() as conn:
            rows = await fetch_tps_rows(conn, election=election, contest=contest, tps=code)
            in_sample = await fetch_in_sample(conn, election, code)
        if rows.roster is None:
            raise not_found(f"TPS {code} di {election}", f"TPS {code} in {election}")
        detail = views.tps_detail(
            snapshot=snapshot, election=election_meta, contest=contest_meta, tps=code, rows=rows
        )
        return detail.model_copy(update={"in_sample": in_sample})

    return await cached_json(request, state, ("tps", election, contest, code), load)


@router.get("/conflicts/{election}", response_model=ConflictListPublic)
async def conflicts(
    election: str,
    request: Request,
    state: StateDep,
    _viewer: CurrentViewer,
    contest: str | None = None,
    area: str | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> Response:
    """Disputed TPS with their rival versions, newest first."""
    await checked_or_404(state, election, contest, area)
    snapshot = state.roster

    async def load() -> ConflictListPublic:
        async with state.pool.acquire() as conn:
            rows = await fetch_conflicts(
                conn, election=election, contest=contest, area_code=area, limit=limit
            )
        return ConflictListPublic(
            election=election, conflicts=[views.conflict_public(snapshot, r) for r in rows]
        )

    key = ("conflicts", election, contest, area, limit)
    return await cached_json(request, state, key, load)


@router.get("/anomalies/{election}", response_model=AnomalyListPublic)
async def anomalies(
    election: str,
    request: Request,
    state: StateDep,
    _viewer: CurrentViewer,
    contest: str | None = None,
    area: str | None = None,
    status: Literal["open", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> Response:
    """Anomalies (warnings on accepted forms, outliers), newest first; open ones by default."""
    await checked_or_404(state, election, contest, area)
    snapshot = state.roster

    async def load() -> AnomalyListPublic:
        async with state.pool.acquire() as conn:
            rows = await fetch_anomalies(
                conn,
                election=election,
                contest=contest,
                area_code=area,
                open_only=status == "open",
                limit=limit,
            )
        return AnomalyListPublic(
            election=election, anomalies=[views.anomaly_public(snapshot, r) for r in rows]
        )

    key = ("anomalies", election, contest, area, status, limit)
    return await cached_json(request, state, key, load)
