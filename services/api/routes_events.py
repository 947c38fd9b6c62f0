"""Route: the Server-Sent Events stream of result changes (fed by LISTEN/NOTIFY)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from services.api.deps import StateDep, StreamClaims
from services.api.errors import ApiError
from services.api.live import stream_changes
from services.api.schemas import error_responses
from shared.hotpath import HotRoute

router = APIRouter(
    prefix="/v1", tags=["events"], route_class=HotRoute, responses=error_responses(401, 422, 503)
)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def events(
    state: StateDep,
    claims: StreamClaims,
    token: str | None = Query(
        default=None,
        description="the bearer token, for EventSource which cannot send headers (this route only)",
    ),
) -> StreamingResponse:
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
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
