"""The one error handler installer of the HTTP services (intake, api): every answer bilingual.

Installed handlers answer {code, pesan (Indonesian), message (English), details} for:
a BilingualError (ApiError, IntakeError, TokenError) with its status and headers; a request
that fails validation (422, one bilingual detail per field); the framework's own HTTP errors
(404, 405, a body that cannot be parsed...); PostgreSQL being unreachable (503 + Retry-After,
never a 500: the client did nothing wrong).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.errors import INVALID_MESSAGE, INVALID_PESAN, BilingualError, translate_errors

# PostgreSQL restarting, refusing or gone: the reader should retry, it did nothing wrong.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    OSError,  # refused connections and timeouts
)
DATABASE_RETRY_AFTER_S = 2

# Texts of the framework's HTTP errors, by status; FastAPI's own detail is English only.
_HTTP_TEXTS: dict[int, tuple[str, str, str]] = {
    400: (
        "BODY_UNREADABLE",
        "Isi permintaan tidak dapat dibaca; kirim JSON (UTF-8) atau formulir yang sah.",
        "The request body could not be read; send valid JSON (UTF-8) or a valid form.",
    ),
    404: ("NOT_FOUND", "Alamat tidak ditemukan.", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "Metode HTTP tidak diizinkan.", "Method not allowed."),
    413: (
        "BODY_TOO_LARGE",
        "Isi permintaan terlalu besar.",
        "The request body is too large.",
    ),
}


def json_error(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON error response."""
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(exc: BilingualError) -> Response:
    """The answer of a BilingualError: its status, headers and body."""
    return json_error(exc.body(), exc.status, exc.response_headers)


def validation_error(exc: RequestValidationError) -> BilingualError:
    """The 422 of a request that failed validation, field paths without the leading 'body'."""
    errors = [e for e in exc.errors() if isinstance(e, Mapping)]
    body_errors = [
        {**e, "loc": tuple(e.get("loc", ()))[1:]} if tuple(e.get("loc", ()))[:1] == ("body",) else e
        for e in errors
    ]
    return BilingualError(
        "INVALID_REQUEST",
        INVALID_PESAN,
        INVALID_MESSAGE,
        status=422,
        details=translate_errors(body_errors),
    )


def http_error(exc: StarletteHTTPException) -> BilingualError:
    """A framework HTTP error (404, 405, unparsable body...) in both languages."""
    status = exc.status_code
    code, pesan, message = _HTTP_TEXTS.get(
        status,
        (f"HTTP_{status}", f"Permintaan tidak dapat dilayani (HTTP {status}).", str(exc.detail)),
    )
    return BilingualError(code, pesan, message, status=status, headers=exc.headers)


def database_unavailable() -> BilingualError:
    """503 while PostgreSQL cannot be reached."""
    return BilingualError(
        "DATABASE_UNAVAILABLE",
        "Basis data sedang tidak dapat dihubungi; coba lagi sebentar lagi.",
        "The database cannot be reached right now; retry shortly.",
        status=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _bilingual(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BilingualError)
    return error_response(exc)


async def _invalid_request(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc))


def _allowed_methods(app: FastAPI, path: str) -> str:
    # Starlette's 405 names the methods of the first route on the path; a path can have several.
    methods = {
        method
        for route in iter_route_contexts(app.routes)
        if (regex := getattr(route, "path_regex", None)) is not None and regex.match(path)
        for method in getattr(route, "methods", None) or ()
    }
    return ", ".join(sorted(methods))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error = http_error(exc)
    if exc.status_code == 405:
        error.response_headers["Allow"] = _allowed_methods(request.app, request.url.path)
    return error_response(error)


async def _database(_request: Request, _exc: Exception) -> Response:
    return error_response(database_unavailable())


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of the app in the bilingual shape (see the module docstring)."""
    app.add_exception_handler(BilingualError, _bilingual)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http)
    for exc_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exc_class, _database)
