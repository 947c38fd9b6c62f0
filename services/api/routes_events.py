"""Route: the Server-Sent Events stream of result changes (fed by LISTEN/NOTIFY)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sse_starlette import EventSourceResponse

from services.api.deps import StateDep, StreamClaims
from services.api.live import STREAM_DOC, event_stream
from services.api.schemas import error_responses
from shared.hotpath import HotRoute

router = APIRouter(
    prefix="/v1", tags=["events"], route_class=HotRoute, responses=error_responses(401, 422, 503)
)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses=STREAM_DOC,
)
async def events(
    state: StateDep,
    claims: StreamClaims,
    token: Annotated[
        str | None,
        Query(
            description="the bearer token, for EventSource, which cannot send headers (this route)",
        ),
    ] = None,
) -> EventSourceResponse:
    """'hello' on connect, then 'changed' (coalesced) whenever results change; ': ping' idle."""
    del token  # read by the StreamClaims dependency; declared here for the OpenAPI description
    return event_stream(state.feed, state.settings, claims, lambda: state.revoked)
