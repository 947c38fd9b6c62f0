"""Routes: a contest's result at an area with its children (the quick count: routes_quickcount)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.api import views
from services.api.deps import (
    ViewerDep,
    cached_json,
    checked_or_404,
)
from services.api.repository import fetch_area_sums, fetch_tps_under
from services.api.schemas import READ_ERRORS, AreaResultPublic
from shared.hotpath import HotRoute

router = APIRouter(prefix="/v1", tags=["results"], route_class=HotRoute, responses=READ_ERRORS)


@router.get("/results/{election}/{contest}/{area}", response_model=AreaResultPublic)
async def area_result(
    election: str,
    contest: str,
    area: str,
    request: Request,
    viewer: ViewerDep,
) -> Response:
    """Totals, progress and turnout at an area, one row per child area (or TPS under a desa)."""
    state = viewer.state
    election_meta = await checked_or_404(state, election, contest, area)
    contest_meta = election_meta.contests[contest]
    snapshot = state.roster

    async def load() -> AreaResultPublic:
        tps_rows = []
        async with state.pool.acquire() as conn:
            if snapshot.areas[area].level == "desa":
                codes = [area]
                tps_rows = await fetch_tps_under(
                    conn, election=election, contest=contest, area_code=area
                )
            else:
                codes = [area, *views.child_codes(snapshot, election_meta, area)]
            sums = await fetch_area_sums(conn, election=election, contest=contest, area_codes=codes)
        return views.area_result(
            snapshot=snapshot,
            election=election_meta,
            contest=contest_meta,
            area_code=area,
            sums=sums,
            tps_rows=tps_rows,
        )

    return await cached_json(request, state, ("result", election, contest, area), load)
