"""The shared error handlers (api and intake): 503 while PostgreSQL is away, bilingual answers."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.routing import Route

from shared.errors import INVALID_PESAN
from shared.http_errors import install_error_handlers


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


class _Body(BaseModel):
    count: int = Field(ge=0)


def _body_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    async def takes(body: _Body) -> dict[str, int]:
        return {"count": body.count}

    app.post("/takes")(takes)
    return app


async def _post(content: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=_body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.post(
            "/takes", content=content, headers={"Content-Type": "application/json"}
        )


async def test_a_body_that_cannot_be_parsed_is_answered_in_indonesian_too() -> None:
    # Not UTF-8: FastAPI gives up before JSON parsing ("There was an error parsing the body").
    response = await _post(b'{"count": "\xff\xfe"}')
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "BODY_UNREADABLE"
    assert "tidak dapat dibaca" in body["pesan"] and "could not be read" in body["message"]
    assert "error parsing" not in body["pesan"]


@pytest.mark.parametrize(
    ("content", "field", "pesan"),
    [
        (b'{"count": -1}', "count", "harus paling kecil 0"),
        (b'{"count": "x"}', "count", "harus bilangan bulat"),
        (b"{}", "count", "wajib diisi"),
        (b"{not json", "1", "JSON tidak sah"),
    ],
)
async def test_422_details_are_bilingual_per_field(content: bytes, field: str, pesan: str) -> None:
    response = await _post(content)
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["pesan"]) == ("INVALID_REQUEST", INVALID_PESAN)
    (detail,) = body["details"]
    assert (detail["field"], detail["pesan"]) == (field, pesan)
    assert detail["message"] and detail["message"] != detail["pesan"]


async def test_unknown_paths_and_methods_are_bilingual() -> None:
    transport = httpx.ASGITransport(app=_body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        missing = await client.get("/nowhere")
        wrong = await client.get("/takes")
    assert (missing.status_code, missing.json()["pesan"]) == (404, "Alamat tidak ditemukan.")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert wrong.headers["Allow"] == "POST"
