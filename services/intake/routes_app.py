"""The operator app: its static files at /app/ and the two reads it makes besides sending forms.

The app sends forms through POST /v1/submissions (Idempotency-Key) and follows each one through
GET /v1/submissions/{id}. Its setup (roster slice and the validator's checks) and the states of
its TPS come from here rather than from the read API: same origin as the form route (so the
service worker and the token serve both, with no CORS), and the same token check. Both read
PostgreSQL, off the hot path, like the status route does.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import asyncpg
import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from services.intake import repository
from services.intake.deps import CurrentOperator
from services.intake.directory import DirectoryRefresher
from services.intake.operator_app import setup_body, status_body
from services.intake.schemas import ErrorOut, IntakeError
from shared.form import ElectionId

if TYPE_CHECKING:
    from services.intake.repository import Conn

STATIC = Path(__file__).resolve().parent / "static" / "app"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
}
# Only the files of the folder are served, by name; nothing else under it is reachable.
FILES = {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in _TYPES}

router = APIRouter(tags=["operator app"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No token, bad, expired or revoked token"},
    422: {"model": ErrorOut, "description": "A parameter is not valid"},
    503: {"model": ErrorOut, "description": "PostgreSQL cannot be read; see Retry-After"},
}


def _file(name: str) -> Response:
    path = FILES.get(name)
    if path is None:
        raise IntakeError(404, "NOT_FOUND", "Alamat tidak ditemukan.", "Not found.")
    # no-cache: the browser revalidates each file; offline the service worker answers.
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/app", include_in_schema=False)
async def app_root() -> Response:
    """The app lives under /app/ (the service worker's scope)."""
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/", include_in_schema=False)
async def app_index() -> Response:
    """The app's page."""
    return _file("index.html")


@router.get("/app/{name}", include_in_schema=False)
async def app_file(name: str) -> Response:
    """One of the app's static files (script, style, service worker, manifest, icon)."""
    return _file(name)


async def _read(
    request: Request, query: Callable[[Conn], Awaitable[dict[str, list[asyncpg.Record]]]]
) -> dict[str, list[asyncpg.Record]]:
    refresher: DirectoryRefresher = request.app.state.refresher
    retry_after = request.app.state.settings.retry_after_s
    unavailable = IntakeError(
        503,
        "DATABASE_UNAVAILABLE",
        "Data tidak bisa dibaca sekarang; coba lagi sebentar lagi.",
        "The data cannot be read right now; retry shortly.",
        retry_after=retry_after,
    )
    if refresher.pool is None:
        raise unavailable
    try:
        async with refresher.pool.acquire() as conn:
            return await query(conn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise unavailable from exc


@dataclass(frozen=True, slots=True)
class _Setup:
    """One setup answer, kept until the roster changes: its JSON, gzipped, and its ETag."""

    body: bytes
    gzipped: bytes
    etag: str


_SETUP_CACHE_MAX = 2048  # distinct (operator, roster version) answers kept


def _cached_setup(request: Request) -> dict[tuple[object, ...], _Setup]:
    state = request.app.state
    if not hasattr(state, "app_setup_cache"):
        state.app_setup_cache = {}
    cache: dict[tuple[object, ...], _Setup] = state.app_setup_cache
    return cache


@router.get(
    "/app/v1/setup",
    summary="The app's roster slice: elections, contests, lines, TPS in scope, checks as data",
    responses={**_ERRORS, 304: {"description": "Unchanged since the ETag in If-None-Match"}},
)
async def app_setup(request: Request, operator: CurrentOperator) -> Response:
    """Everything the app needs to fill and check forms offline, for the token's scope.

    Per contest: the candidates or parties with their lines, the form's number boxes with the
    validator's labels, and the validator's checks as data (services/validator/relations.py);
    per TPS: the values the checks read (DPT, reserve ballots). `rules` is the validator's
    whole rule table (codes, severities, Indonesian and English templates) that the checks'
    codes refer to. Gzipped when the client accepts it, with an ETag: a phone on a weak signal
    downloads it again only when the roster changed.
    """
    version = request.app.state.directory.roster_version
    key = (operator.id, operator.name, operator.role, operator.scope, version)
    cache = _cached_setup(request)
    setup = cache.get(key) if version is not None else None
    if setup is None:
        rows = await _read(request, lambda conn: repository.fetch_app_roster(conn, operator.scope))
        body = orjson.dumps(setup_body(operator, rows, version))
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        setup = _Setup(body, gzip.compress(body, compresslevel=6), etag)
        if version is not None:
            if len(cache) >= _SETUP_CACHE_MAX:
                cache.clear()
            cache[key] = setup
    headers = {"ETag": setup.etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == setup.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(setup.gzipped, media_type="application/json", headers=headers)
    return Response(setup.body, media_type="application/json", headers=headers)


@router.get(
    "/app/v1/status",
    summary="The newest submission per contest and TPS in the token's scope, and its progress",
    responses=_ERRORS,
)
async def app_status(
    request: Request,
    operator: CurrentOperator,
    election: Annotated[ElectionId, Query(examples=["pemilu-2024"])],
) -> Response:
    """The state of each contest at each TPS of the scope (accepted, rejected with the
    violations, conflict, ...) whoever sent it, and TPS reported / total per scope area."""
    rows = await _read(
        request, lambda conn: repository.fetch_app_status(conn, election, operator.scope)
    )
    return Response(orjson.dumps(status_body(election, rows)), media_type="application/json")
