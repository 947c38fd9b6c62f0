"""Read API and dashboard app: serves totals, progress, reviews and live updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.api.settings import ApiSettings
from shared.db import create_pool
from shared.ops import add_ops_routes


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; settings are read here so tests can pass overrides."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="Desk Pemilu read API", version="1", lifespan=lifespan)
    app.state.settings = settings

    async def health() -> dict[str, bool]:
        async with app.state.pool.acquire() as conn:
            return {"postgres": await conn.fetchval("SELECT true") is True}

    add_ops_routes(app, health)
    return app
