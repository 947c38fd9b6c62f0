"""Hot routes: declared once as FastAPI routes (the OpenAPI), served by a lean binder made once."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from re import Pattern
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ValidationError
from starlette.convertors import Convertor
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_BODY = 256 * 1024  # a hot route's body: one form is well under 10 KB

Values = dict[str, Any]
Errors = list[dict[str, Any]]
# Solves one dependant for one request: fills the call's keyword arguments, collects errors.
Binder = Callable[[Request, Values, Errors, dict[Any, Any]], Awaitable[None]]


class HotRoute(APIRoute):
    """An APIRoute served without FastAPI's per-request parameter and dependency solving.

    A route is declared once, on an `APIRouter(route_class=HotRoute)`, like any FastAPI route, and
    its OpenAPI operation comes from that declaration. `install_hot_paths(app)` then answers its
    requests ahead of FastAPI's router and middleware (routing through included routers,
    telemetry, exit stacks and dependency solving cost more per request than a hot route's own
    checks); without it the same handler is reached through FastAPI, only slower.

    FastAPI builds the route (path, methods, OpenAPI operation) from the endpoint's signature as
    usual; only the request handler differs: the binder below reads path, query and header
    parameters and a JSON body, and awaits the dependencies (async callables, cached per request),
    with the same validation errors. Profiling showed most of a hot route's CPU in FastAPI's
    generic solver, not in the checks. Anything the binder cannot do fails when the route is made.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The lean handler of this route (FastAPI's own is never built)."""
        dependant = self.dependant
        # An included route is served through a per-inclusion copy that carries the router's
        # dependencies too; FastAPI's APIRoute reads it from this context variable the same way.
        context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
        context = context_var.get() if context_var is not None else None
        if context is not None and context.original_route is self and context.dependant:
            dependant = context.dependant
        return _handler(self, dependant)


def _handler(
    route: APIRoute, dependant: Dependant
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    endpoint = dependant.call
    if endpoint is None or not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"hot route {route.path}: the endpoint must be an async function")
    bind = _binder(dependant, route.path, body_allowed=True)
    status_code = route.status_code or 200

    async def handle(request: Request) -> Response:
        values: Values = {}
        errors: Errors = []
        await bind(request, values, errors, {})
        if errors:
            raise RequestValidationError(errors)
        result = await endpoint(**values)
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):
            return Response(
                result.model_dump_json(), status_code=status_code, media_type="application/json"
            )
        return JSONResponse(jsonable_encoder(result), status_code=status_code)

    return handle


def _unsupported(dependant: Dependant, path: str, body_allowed: bool) -> list[str]:
    found = [
        name
        for name, present in (
            ("cookie parameters", dependant.cookie_params),
            ("a WebSocket", dependant.websocket_param_name),
            ("a Response parameter", dependant.response_param_name),
            ("background tasks", dependant.background_tasks_param_name),
            ("security scopes", dependant.security_scopes_param_name),
            ("a body in a dependency", dependant.body_params and not body_allowed),
            ("more than one body parameter", len(dependant.body_params) > 1),
        )
        if present
    ]
    found += [
        f"body {field.name} that is not a pydantic model"
        for field in dependant.body_params
        if _body_model(field) is None
    ]
    return [f"hot route {path}: {what} not supported" for what in found]


def _body_model(field: Any) -> type[BaseModel] | None:
    annotation = field.field_info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class _Param:
    """One path, query or header parameter, with what validating it needs precomputed."""

    __slots__ = ("alias", "default", "field", "key", "name", "required", "where")

    def __init__(self, field: Any, where: str) -> None:
        self.field = field
        self.name = field.name
        self.alias = field.alias
        self.where = where
        # Headers are looked up lower-case; FastAPI turns snake_case names into dashes.
        self.key = (
            (self.alias.replace("_", "-") if self.alias == self.name else self.alias).lower()
            if where == "header"
            else self.alias
        )
        self.required = field.field_info.is_required()
        self.default = None if self.required else field.default

    def bind(self, raw: Any, values: Values, errors: Errors) -> None:
        if raw is None:
            if self.required:
                loc = (self.where, self.alias)
                errors.append(
                    {"type": "missing", "loc": loc, "msg": "Field required", "input": None}
                )
            else:
                values[self.name] = self.default
            return
        value, problems = self.field.validate(raw, loc=(self.where, self.alias))
        if problems:
            errors.extend(problems)
        else:
            values[self.name] = value


def _binder(dependant: Dependant, path: str, *, body_allowed: bool) -> Binder:
    problems = _unsupported(dependant, path, body_allowed)
    if problems:
        raise TypeError("; ".join(problems))
    sub_binders = [(str(sub.name), _dependency(sub, path)) for sub in dependant.dependencies]
    path_params = [_Param(f, "path") for f in dependant.path_params]
    query_params = [_Param(f, "query") for f in dependant.query_params]
    header_params = [_Param(f, "header") for f in dependant.header_params]
    body = dependant.body_params[0] if dependant.body_params else None
    body_model = _body_model(body) if body else None
    # A Request is an HTTPConnection (security schemes such as HTTPBearer ask for the latter).
    request_names = [
        n for n in (dependant.request_param_name, dependant.http_connection_param_name) if n
    ]

    async def bind(request: Request, values: Values, errors: Errors, cache: dict[Any, Any]) -> None:
        # Dependencies first (authentication answers before a malformed body), then parameters.
        for name, solve in sub_binders:
            values[name] = await solve(request, cache, errors)
        for name in request_names:
            values[name] = request
        if path_params:
            given = request.scope["path_params"]
            for param in path_params:
                param.bind(given.get(param.key), values, errors)
        if query_params:
            query = request.query_params
            for param in query_params:
                param.bind(query.get(param.key), values, errors)
        if header_params:
            headers = request.headers
            for param in header_params:
                param.bind(headers.get(param.key), values, errors)
        if body is not None and body_model is not None:
            raw = await _read_body(request.receive)
            try:
                values[body.name] = body_model.model_validate_json(raw)
            except ValidationError as exc:
                errors.extend(
                    {**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)
                )

    return bind


def _dependency(
    sub: Dependant, path: str
) -> Callable[[Request, dict[Any, Any], Errors], Awaitable[Any]]:
    call = sub.call
    if call is None or not (
        inspect.iscoroutinefunction(call)
        or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
    ):
        raise TypeError(f"hot route {path}: dependency {call!r} must be async (no yield)")
    bind = _binder(sub, path, body_allowed=False)
    use_cache = sub.use_cache
    only_request = (
        not (sub.dependencies or sub.path_params or sub.query_params or sub.header_params)
        and len([n for n in (sub.request_param_name, sub.http_connection_param_name) if n]) == 1
    )
    request_name = sub.request_param_name or sub.http_connection_param_name or ""

    async def solve(request: Request, cache: dict[Any, Any], errors: Errors) -> Any:
        if use_cache and call in cache:
            return cache[call]
        if only_request:  # the common case, without building a dict of arguments
            result = await call(**{request_name: request})
        else:
            values: Values = {}
            await bind(request, values, errors, cache)
            if errors:
                raise RequestValidationError(errors)
            result = await call(**values)
        if use_cache:
            cache[call] = result
        return result

    return solve


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "The client disconnected.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"Request body too large (at most {MAX_BODY} bytes).")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunk if len(chunks) == 1 else b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Hot:
    regex: Pattern[str]
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str]
    route: Any  # what scope["route"] holds for FastAPI's own dispatch: has path_format
    handle: Callable[[Request], Coroutine[Any, Any, Response]]


class HotPaths:
    """ASGI middleware: a request for a HotRoute goes straight to its handler.

    Anything else (other paths, another method: FastAPI answers 405) passes through untouched.
    Errors are rendered by the app's own exception handlers, as FastAPI would.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._table: list[_Hot] | None = None

    def _hot_routes(self) -> list[_Hot]:
        # Built at the first request: routes may be added after the middleware.
        if self._table is None:
            self._table = [
                _Hot(
                    context.path_regex,
                    context.param_convertors,
                    frozenset(context.methods or ()),
                    context,
                    _handler(original, context.dependant),
                )
                for context in iter_route_contexts(self.fastapi_app.routes)
                if isinstance(original := context.original_route, HotRoute)
            ]
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            method = scope["method"]
            for hot in self._hot_routes():
                match = hot.regex.match(path)
                if match is not None and method in hot.methods:
                    scope["path_params"] = {
                        k: hot.convertors[k].convert(v) for k, v in match.groupdict().items()
                    }
                    scope["route"] = hot.route
                    await self._serve(hot, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, hot: _Hot, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await hot.handle(request)
        except Exception as exc:
            handler = self._exception_handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _exception_handler(self, exc: Exception) -> Any:
        # The lookup Starlette's ExceptionMiddleware makes: status code, then the class's MRO.
        handlers = self.fastapi_app.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None


def install_hot_paths(app: FastAPI) -> None:
    """Serve the app's HotRoutes ahead of FastAPI's router (add it before outer middleware)."""
    app.add_middleware(HotPaths, fastapi_app=app)
