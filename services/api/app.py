"""Read API and dashboard app: serves totals, progress, reviews, exports and live updates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from services.api import (
    routes_areas,
    routes_events,
    routes_exports,
    routes_findings,
    routes_incidents,
    routes_kpu,
    routes_photos,
    routes_quickcount,
    routes_results,
    routes_review,
    routes_silent,
    routes_tps,
)
from services.api.cache import ResponseCache
from services.api.deps import ApiState
from services.api.live import ChangeFeed
from services.api.publisher import ReviewPublisher
from services.api.repository import fetch_roster_rows
from services.api.roster_cache import build_snapshot
from services.api.settings import ApiSettings
from shared.db import create_pool
from shared.hotpath import install_hot_paths
from shared.http_errors import install_error_handlers
from shared.metrics import APP_TELEMETRY
from shared.notify import ResultsChanged
from shared.ops import add_ops_routes

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


async def _refresh_forever(state: ApiState) -> None:
    while True:
        await asyncio.sleep(state.settings.refresh_s)
        try:
            await state.refresh()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Reads go on from the cache and fail on their own; /healthz reports the outage.
            log.warning("roster/revocation refresh failed", extra={"error": str(exc)})


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; settings are read here so tests can pass overrides."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Reads go to API_DATABASE_URL (a streaming replica) when set; LISTEN to the primary.
        pool = await create_pool(
            settings.reads_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        async with pool.acquire() as conn:
            snapshot = build_snapshot(await fetch_roster_rows(conn))
        cache = ResponseCache(ttl_s=settings.cache_ttl_s, max_entries=settings.cache_max_entries)
        feed = ChangeFeed(
            settings.database_url, ResultsChanged.CHANNEL, cache.invalidate,
            replica=pool if settings.read_database_url else None,
            replica_wait_s=settings.replica_wait_s,
        )  # fmt: skip
        publisher = ReviewPublisher(
            settings.kafka_bootstrap_servers,
            settings.topics.received,
            timeout_s=settings.publish_timeout_s,
        )
        state = ApiState(
            settings=settings,
            pool=pool,
            cache=cache,
            feed=feed,
            publisher=publisher,
            roster=snapshot,
        )
        await state.refresh()
        app.state.api = state
        feed.start()
        desk_feed.start()
        refresher = asyncio.create_task(_refresh_forever(state), name="refresh")
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await feed.stop()
            await desk_feed.stop()
            await publisher.stop()
            await pool.close()

    app = FastAPI(
        title="Desk Pemilu read API",
        version="1",
        lifespan=lifespan,
        description="Internal: every /v1 route needs `Authorization: Bearer <token>`.",
        telemetry=APP_TELEMETRY,
    )
    install_error_handlers(app)
    for module in (
        routes_areas,
        routes_results,
        routes_tps,
        routes_review,
        routes_exports,
        routes_events,
        routes_findings,
        routes_photos,
        routes_silent,
    ):
        app.include_router(module.router)
    app.include_router(routes_quickcount.router)
    app.include_router(routes_kpu.router)
    routes_photos.install_photo_store(app)
    desk_feed = routes_incidents.install(app, settings.database_url)
    install_hot_paths(app)

    async def health() -> dict[str, bool]:
        state: ApiState = app.state.api
        async with state.pool.acquire() as conn:
            postgres = await conn.fetchval("SELECT true") is True
        return {"postgres": postgres, "listen": state.feed.connected.is_set()}

    add_ops_routes(app, health)

    # The page itself needs no token: it asks for one and sends it with every /v1 request.
    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
