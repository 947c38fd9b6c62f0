"""Route: the quick count of a contest (sample estimate, partial count, progress, release gate).

Computed on read from tps_results and the current sample, then kept in the response cache like
every result (dropped whenever results change, so the /v1/events 'changed' event for the
contest tells dashboards to re-fetch; the ETag says whether the estimate moved).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.api.deps import (
    ViewerDep,
    cached_json,
    place_or_404,
)
from services.api.quickcount import (
    ReportedRow,
    quickcount_settings,
    quickcount_view,
    release_moment,
    visibility,
)
from services.api.repository import (
    fetch_current_sample,
    fetch_reported_for_quickcount,
    fetch_sample_tps_under,
)
from services.api.schemas import READ_ERRORS, QuickCountPublic, QuickCountSample
from shared.events import utcnow

router = APIRouter(prefix="/v1", tags=["quickcount"], responses=READ_ERRORS)


def _clock(request: Request) -> datetime:
    """Now; tests set app.state.quickcount_clock to a fixed clock."""
    clock: Callable[[], datetime] = getattr(request.app.state, "quickcount_clock", utcnow)
    return clock()


@router.get("/quickcount/{election}/{contest}", response_model=QuickCountPublic)
async def quickcount(
    election: str,
    contest: str,
    request: Request,
    viewer: ViewerDep,
    area: Annotated[
        str | None, Query(description="area code (default: the election's home area)")
    ] = None,
) -> Response:
    """Sample progress, the stratified estimate with 95%/99% intervals, the lead and the method.

    Before the release moment (default 15:00 WIB on the election date) only admins see
    estimates, under a 'not for release' banner; others see the progress only.
    """
    state = viewer.state
    election_meta, contest_meta, area_code = await place_or_404(state, election, contest, area)
    snapshot = state.roster
    now = _clock(request)
    release_at = release_moment(election_meta.date, quickcount_settings())
    seen = visibility(now, release_at, viewer.operator.role)

    async def load() -> QuickCountPublic:
        async with state.pool.acquire() as conn:
            stored = await fetch_current_sample(conn, election)
            sample = QuickCountSample(**dict(stored)) if stored is not None else None
            drawn = await fetch_sample_tps_under(conn, sample.id, area_code) if sample else []
            rows = await fetch_reported_for_quickcount(
                conn, election=election, contest=contest, area_code=area_code,
                sample_id=sample.id if sample else None,
            )  # fmt: skip
        depth = 3 if snapshot.areas[area_code].level not in ("kecamatan", "desa") else None
        drawn_per: dict[str, int] = {}
        for code in drawn:
            stratum = ".".join(code.split(".")[:3]) if depth else area_code
            drawn_per[stratum] = drawn_per.get(stratum, 0) + 1
        return quickcount_view(
            snapshot=snapshot, election=election_meta, contest=contest_meta, area=area_code,
            rows=[
                ReportedRow(r["tps"], dict(r["votes"]), r["suara_sah"], r["suara_tidak_sah"],
                            r["pengguna"], r["dpt"], r["in_sample"])
                for r in rows
            ],
            sample=sample, drawn_per_stratum=drawn_per, now=now, release_at=release_at,
            role=viewer.operator.role,
        )  # fmt: skip

    return await cached_json(
        request, state, ("quickcount", election, contest, area_code, seen), load
    )
