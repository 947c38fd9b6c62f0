"""Bilingual API errors: a stable machine code plus a message in Indonesian and in English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from shared.policy import Refusal


class ApiError(Exception):
    """An error answered as {code, pesan, message} with its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        pesan: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.pesan = pesan
        self.message = message
        self.headers = dict(headers or {})


def unauthorized(code: str, pesan: str, message: str) -> ApiError:
    """401 with the Bearer challenge."""
    return ApiError(401, code, pesan, message, headers={"WWW-Authenticate": "Bearer"})


def refusal_error(refused: Refusal) -> ApiError:
    """403 of a shared.policy refusal, with its code (the validator refuses with the same)."""
    return ApiError(403, refused.code, refused.pesan, refused.message)


def not_found(what_id: str, what_en: str) -> ApiError:
    """404 naming what was not found."""
    return ApiError(404, "NOT_FOUND", f"{what_id} tidak ditemukan.", f"{what_en} not found.")


def json_error(
    body: dict[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON error response."""
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


# PostgreSQL restarting, refusing or gone: the reader should retry, it did nothing wrong.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    OSError,  # refused connections and timeouts
)
RETRY_AFTER_S = 2


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError and request validation errors in the bilingual shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return json_error(
            {"code": exc.code, "pesan": exc.pesan, "message": exc.message},
            exc.status,
            exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return json_error(
            {
                "code": "INVALID_REQUEST",
                "pesan": "Permintaan tidak sah.",
                "message": "The request is not valid.",
                "details": details,
            },
            422,
        )

    async def _database_unavailable(_request: Request, _exc: Exception) -> Response:
        return json_error(
            {
                "code": "DATABASE_UNAVAILABLE",
                "pesan": "Basis data sedang tidak dapat dihubungi; coba lagi sebentar lagi.",
                "message": "The database cannot be reached right now; retry shortly.",
            },
            503,
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    for exc_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exc_class, _database_unavailable)
