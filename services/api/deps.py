"""Request dependencies: the app's state, the pool, and who the bearer of the token is."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request, Response
from pydantic import BaseModel

from services.api.cache import ResponseCache, etag_matches
from services.api.errors import not_found, refusal_error
from services.api.live import ChangeFeed
from services.api.publisher import ReviewPublisher
from services.api.roster_cache import ContestMeta, ElectionMeta, RosterSnapshot, roster_cache
from services.api.settings import ApiSettings
from shared.auth import Claims
from shared.events import OperatorRef
from shared.policy import review_role_refusal
from shared.roster_cache import RosterCache
from shared.tokens import TokenVerifier, bearer_token, token_missing

log = logging.getLogger(__name__)

# Every dependency is async: FastAPI runs sync ones in a thread pool, which costs more than they do.
_VERIFIED_TOKENS_MAX = 4096
_UNKNOWN_ELECTION_RECHECK_S = 1.0


@dataclass
class ApiState:
    """What every request may need; one per app, built in the lifespan."""

    settings: ApiSettings
    pool: asyncpg.Pool
    cache: ResponseCache
    feed: ChangeFeed
    publisher: ReviewPublisher
    roster: RosterSnapshot
    # Signature checked once per token; expiry and revocation on every request.
    tokens: TokenVerifier = field(init=False)
    roster_checked_at: float = 0.0
    _refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The roster cache the validator and the intake use too (shared.roster_cache).
    _rosters: RosterCache[RosterSnapshot] = field(init=False)

    def __post_init__(self) -> None:
        self._rosters = roster_cache(self.roster)
        self.tokens = TokenVerifier(
            self.settings.token_secret.get_secret_value(), max_entries=_VERIFIED_TOKENS_MAX
        )

    @property
    def revoked(self) -> frozenset[uuid.UUID]:
        """Ids of revoked tokens, as of the last refresh."""
        return self.tokens.revoked

    async def refresh(self) -> bool:
        """Re-read revoked tokens and, if the roster changed, the roster; True if it changed."""
        async with self._refresh_lock:
            self.roster_checked_at = time.monotonic()
            async with self.pool.acquire() as conn:
                await self.tokens.refresh_revoked(conn)
                if not await self._rosters.refresh(conn):
                    return False
            self.roster = snapshot = self._rosters.value
            log.info("roster reloaded", extra={"roster_version": snapshot.version})
            # Cached answers name areas and candidates: drop them and tell the dashboards.
            self.feed.changed({("", "")})
            return True

    def claims_for(self, token: str | None) -> Claims:
        """Claims of a bearer token: signature (cached), expiry, revocation; 401 otherwise."""
        if not token:
            raise token_missing()
        return self.tokens.verify(token)


async def get_state(request: Request) -> ApiState:
    """The app's state."""
    state: ApiState = request.app.state.api
    return state


async def get_pool(request: Request) -> asyncpg.Pool:
    """The read pool."""
    return (await get_state(request)).pool


StateDep = Annotated[ApiState, Depends(get_state)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]


def request_token(request: Request) -> str | None:
    """The token of the request's 'Authorization: Bearer ...' header, if any."""
    return bearer_token(request.headers.get("authorization"))


async def current_claims(request: Request) -> Claims:
    """Claims of the bearer token; every /v1 route needs one."""
    return (await get_state(request)).claims_for(request_token(request))


async def stream_claims(request: Request, token: str | None = None) -> Claims:
    """Claims for the SSE route: EventSource cannot send headers, so ?token= is accepted too."""
    return (await get_state(request)).claims_for(request_token(request) or token)


async def current_viewer(claims: Annotated[Claims, Depends(current_claims)]) -> OperatorRef:
    """Any valid token may read: viewer, operator, camat, admin."""
    return claims.operator


async def current_reviewer(claims: Annotated[Claims, Depends(current_claims)]) -> OperatorRef:
    """Only a camat or an admin may review (shared.policy); the route checks the area."""
    refused = review_role_refusal(claims.operator)
    if refused is not None:
        raise refusal_error(refused)
    return claims.operator


@dataclass(frozen=True, slots=True)
class Viewer:
    """The app's state and the bearer of a valid token, from one dependency."""

    state: ApiState
    operator: OperatorRef


async def viewer_context(request: Request) -> Viewer:
    """State and reader in one step: a single dependency keeps the hot routes cheap."""
    state: ApiState = request.app.state.api
    return Viewer(state, state.claims_for(request_token(request)).operator)


CurrentClaims = Annotated[Claims, Depends(current_claims)]
ViewerDep = Annotated[Viewer, Depends(viewer_context)]
StreamClaims = Annotated[Claims, Depends(stream_claims)]
CurrentViewer = Annotated[OperatorRef, Depends(current_viewer)]
CurrentReviewer = Annotated[OperatorRef, Depends(current_reviewer)]


async def election_or_404(state: ApiState, election: str) -> ElectionMeta:
    """The cached election, or 404; an unknown one triggers a roster re-check (at most 1/s)."""
    meta = state.roster.elections.get(election)
    if meta is None and time.monotonic() - state.roster_checked_at > _UNKNOWN_ELECTION_RECHECK_S:
        await state.refresh()
        meta = state.roster.elections.get(election)
    if meta is None:
        raise not_found(f"Pemilihan {election}", f"Election {election}")
    return meta


def contest_or_404(election: ElectionMeta, contest: str) -> ContestMeta:
    """A contest of the election, or 404."""
    meta = election.contests.get(contest)
    if meta is None:
        raise not_found(
            f"Jenis pemilihan {contest} di {election.id}", f"Contest {contest} in {election.id}"
        )
    return meta


def area_or_404(state: ApiState, election: ElectionMeta, area_code: str) -> str:
    """An area code that exists and holds TPS of the election, or 404."""
    if area_code not in state.roster.areas or not election.covers(area_code):
        raise not_found(
            f"Wilayah {area_code} untuk {election.id}", f"Area {area_code} for {election.id}"
        )
    return area_code


async def checked_or_404(
    state: ApiState, election: str, contest: str | None = None, area: str | None = None
) -> ElectionMeta:
    """The election, once the contest and the area (when given) are known for it; else 404."""
    meta = await election_or_404(state, election)
    if contest is not None:
        contest_or_404(meta, contest)
    if area is not None:
        area_or_404(state, meta, area)
    return meta


async def place_or_404(
    state: ApiState, election: str, contest: str, area: str | None
) -> tuple[ElectionMeta, ContestMeta, str]:
    """The election, its contest and an area of it (the election's home area when none is
    asked), each known for the election; else 404."""
    meta = await election_or_404(state, election)
    contest_meta = contest_or_404(meta, contest)
    return meta, contest_meta, area_or_404(state, meta, area or meta.home_area)


def cache_headers(state: ApiState, etag: str) -> dict[str, str]:
    """Headers of a cacheable JSON answer: the browser revalidates with If-None-Match."""
    return {
        "ETag": etag,
        "Cache-Control": f"private, max-age={state.settings.client_max_age_s}",
        "Vary": "Authorization, Accept-Encoding",
    }


async def cached_json(
    request: Request,
    state: ApiState,
    key: Hashable,
    load: Callable[[], Awaitable[BaseModel]],
) -> Response:
    """Serve a model from the response cache, 304 when the client already has this version."""

    async def body() -> bytes:
        return (await load()).model_dump_json().encode()

    entry = await state.cache.get(key, body)
    gzipped = entry.gzipped is not None and "gzip" in request.headers.get("accept-encoding", "")
    headers = cache_headers(state, entry.gzip_etag if gzipped else entry.etag)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and (
        etag_matches(if_none_match, entry.etag) or etag_matches(if_none_match, entry.gzip_etag)
    ):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzipped, media_type="application/json", headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)
