"""Route: the Server-Sent Events stream of result changes (fed by LISTEN/NOTIFY)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sse_starlette import EventSourceResponse

from services.api.deps import StateDep, StreamClaims
from services.api.errors import ApiError
from services.api.live import sse_ping, stream_changes
from services.api.schemas import error_responses
from shared.hotpath import HotRoute

router = APIRouter(
    prefix="/v1", tags=["events"], route_class=HotRoute, responses=error_responses(401, 422, 503)
)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
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
    settings = state.settings
    if len(state.feed.subscribers) >= settings.sse_max_clients:
        raise ApiError(
            503,
            "TOO_MANY_STREAMS",
            "Terlalu banyak koneksi langsung; coba lagi nanti.",
            "Too many live connections; try again later.",
            headers={"Retry-After": "10"},
        )
    stream = stream_changes(
        state.feed,
        heartbeat_s=settings.sse_heartbeat_s,
        coalesce_s=settings.sse_coalesce_s,
        expires_at=claims.expires_at.timestamp(),
        # Checked at every event or ping: a revoked token's stream ends within a heartbeat.
        revoked=lambda: claims.jti in state.revoked,
    )
    # Pings every heartbeat and the disconnect watch come from EventSourceResponse.
    return EventSourceResponse(
        stream,
        headers={"Cache-Control": "no-cache"},
        ping=settings.sse_heartbeat_s,
        ping_message_factory=sse_ping,
        sep="\n",
    )
