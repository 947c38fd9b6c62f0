"""Routes: who am I, elections with their contests, and the area tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.api import views
from services.api.deps import (
    CurrentClaims,
    CurrentViewer,
    StateDep,
    cached_json,
    election_or_404,
)
from services.api.errors import not_found
from services.api.repository import fetch_last_activity
from services.api.schemas import (
    READ_ERRORS,
    AreaNodePublic,
    ElectionListPublic,
    ElectionPublic,
    WhoAmIPublic,
)
from shared.events import utcnow
from shared.hotpath import HotRoute
from shared.policy import may_review

router = APIRouter(prefix="/v1", tags=["areas"], route_class=HotRoute, responses=READ_ERRORS)


@router.get("/whoami", response_model=WhoAmIPublic)
async def whoami(claims: CurrentClaims) -> WhoAmIPublic:
    """The bearer of the token and whether they may review."""
    operator = claims.operator
    return WhoAmIPublic(
        id=operator.id,
        name=operator.name,
        role=operator.role.value,
        scope=list(operator.scope),
        can_review=may_review(operator.role),
        expires_at=claims.expires_at,
    )


@router.get("/elections", response_model=ElectionListPublic)
async def list_elections(request: Request, state: StateDep, _viewer: CurrentViewer) -> Response:
    """Every loaded election with its contests and vote lines."""
    snapshot = state.roster
    elections = list(snapshot.elections.values())

    async def load() -> ElectionListPublic:
        # Answers are dropped from the cache whenever results change, so this stays current.
        places = [(e.id, c, a) for e in elections for c in e.contests for a in e.top_areas]
        async with state.pool.acquire() as conn:
            activity = await fetch_last_activity(conn, places)
        return ElectionListPublic(
            elections=[views.election_public(e, activity.get(e.id)) for e in elections],
            opening=views.opening_election(
                elections, activity, utcnow().astimezone(views.WIB).date()
            ),
        )

    return await cached_json(request, state, ("elections", snapshot.version), load)


@router.get("/elections/{election}", response_model=ElectionPublic)
async def get_election(
    election: str, request: Request, state: StateDep, _viewer: CurrentViewer
) -> Response:
    """One election with its contests and vote lines."""
    meta = await election_or_404(state, election)

    async def load() -> ElectionPublic:
        return views.election_public(meta)

    return await cached_json(request, state, ("election", election, state.roster.version), load)


@router.get("/areas/{code}", response_model=AreaNodePublic)
async def get_area(
    code: str,
    request: Request,
    state: StateDep,
    _viewer: CurrentViewer,
    election: Annotated[str | None, Query(description="only children holding its TPS")] = None,
) -> Response:
    """An area with its breadcrumb and children (with TPS and DPT counts for an election)."""
    meta = await election_or_404(state, election) if election else None
    snapshot = state.roster
    if code not in snapshot.areas or (meta is not None and not meta.covers(code)):
        raise not_found(f"Wilayah {code}", f"Area {code}")

    async def load() -> AreaNodePublic:
        return views.area_node(snapshot, code, meta)

    return await cached_json(request, state, ("area", code, election, snapshot.version), load)
