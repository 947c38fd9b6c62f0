"""shared.hotpath: a hot route answers exactly as FastAPI answers the same declaration."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from shared.hotpath import HotRoute, install_hot_paths

bearer = HTTPBearer(auto_error=False)
calls: list[str] = []


class Item(BaseModel):
    """A body with constraints."""

    name: str = Field(min_length=1)
    count: int = Field(ge=0)


async def state_of(request: Request) -> str:
    calls.append("state")
    return str(request.url.path)


async def who(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    state: Annotated[str, Depends(state_of)],
) -> str:
    return credentials.credentials if credentials else "anonymous"


def build(hot: bool) -> FastAPI:
    router = APIRouter(prefix="/v1", route_class=HotRoute)

    @router.get("/things/{number}")
    async def get_thing(
        number: Annotated[int, Path(ge=1)],
        state: Annotated[str, Depends(state_of)],
        user: Annotated[str, Depends(who)],
        limit: Annotated[int, Query(ge=1, le=10)] = 5,
        key: Annotated[str | None, Header(alias="X-Key", min_length=2)] = None,
    ) -> dict[str, Any]:
        return {"number": number, "limit": limit, "key": key, "user": user, "state": state}

    @router.post("/things", status_code=201, response_model=Item)
    async def post_thing(item: Item, user: Annotated[str, Depends(who)]) -> Item:
        return Item(name=f"{item.name} by {user}", count=item.count)

    app = FastAPI()
    app.include_router(router)
    if hot:
        install_hot_paths(app)
    return app


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/things/3", {}),
    ("GET", "/v1/things/3?limit=7", {"headers": {"X-Key": "ab", "Authorization": "Bearer t0k"}}),
    ("GET", "/v1/things/0", {}),
    ("GET", "/v1/things/x?limit=99", {"headers": {"X-Key": "a"}}),
    ("POST", "/v1/things", {"json": {"name": "kotak", "count": 2}}),
    ("POST", "/v1/things", {"json": {"name": "", "count": -1}}),
    (
        "POST",
        "/v1/things",
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
    ),
    ("POST", "/v1/things/3", {}),
    ("DELETE", "/v1/things", {}),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
async def test_hot_path_answers_like_fastapi(
    method: str, path: str, options: dict[str, Any]
) -> None:
    answers = []
    for hot in (False, True):
        transport = httpx.ASGITransport(app=build(hot))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.request(method, path, **options)
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), list):
            # Same errors at the same places; pydantic's wording and links may differ.
            body = sorted((tuple(e["loc"]), e["type"]) for e in body["detail"])
        answers.append((response.status_code, body, response.headers.get("allow")))
    assert answers[0] == answers[1]


async def test_dependencies_run_once_per_request() -> None:
    calls.clear()
    transport = httpx.ASGITransport(app=build(True))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/v1/things/3")
    assert response.status_code == 200 and response.json()["user"] == "anonymous"
    assert calls == ["state"]  # asked for by the route and by who(): solved once


def test_what_the_binder_cannot_do_fails_when_the_route_is_made() -> None:
    router = APIRouter(route_class=HotRoute)

    async def with_cookie(session: Annotated[str, Cookie()]) -> dict[str, str]:
        return {"session": session}

    with pytest.raises(TypeError, match="cookie parameters not supported"):
        router.add_api_route("/cookie", with_cookie)
