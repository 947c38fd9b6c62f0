"""The read API answers 503 with Retry-After, not 500, while PostgreSQL cannot be reached."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from services.api.errors import install_error_handlers


def _app(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    async def fails() -> None:
        raise exc

    app.get("/fastapi")(fails)

    async def plain(_request: object) -> None:  # a Starlette route like the fast GET paths
        raise exc

    app.router.routes.insert(0, Route("/plain", plain))
    return app


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.InterfaceError("pool is closing"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
    ],
)
@pytest.mark.parametrize("path", ["/fastapi", "/plain"])
async def test_database_outage_is_503_with_retry_after(exc: Exception, path: str) -> None:
    transport = httpx.ASGITransport(app=_app(exc))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    body = response.json()
    assert body["code"] == "DATABASE_UNAVAILABLE"
    assert body["pesan"] and body["message"]
