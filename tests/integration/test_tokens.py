"""Issuing and revoking operator tokens (deskpemilu.tokens) on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from deskpemilu import tokens
from shared.auth import verify_token
from shared.db import connect
from shared.events import Role
from tests.procs import TEST_TOKEN_SECRET

pytestmark = pytest.mark.integration

OPERATORS = [
    ("admin.1", "Admin", "admin", [], True),
    ("camat.x", "Camat X", "camat", ["16.07.01"], True),
    ("viewer.1", "Viewer", "viewer", [], True),
    ("gone.1", "Gone", "operator", ["16.07.01.1001"], False),
]


@pytest.fixture
async def db(scratch_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(scratch_database)
    await conn.executemany(
        "INSERT INTO operators (id, name, role, scope, active) VALUES ($1, $2, $3, $4, $5)",
        OPERATORS,
    )
    yield conn
    await conn.close()


async def test_an_issued_token_verifies_is_recorded_and_revokes_once(
    db: asyncpg.Connection,
) -> None:
    camat = await tokens.active_operator(db, "camat.x")
    assert camat is not None and camat.role is Role.CAMAT and camat.scope == ("16.07.01",)
    token = await tokens.issue(db, TEST_TOKEN_SECRET, camat, ttl=timedelta(hours=2))
    claims = verify_token(TEST_TOKEN_SECRET, token)
    assert claims.operator.id == "camat.x"
    row = await db.fetchrow(
        "SELECT operator_id, expires_at FROM operator_tokens WHERE jti = $1", claims.jti
    )
    assert row is not None and row["operator_id"] == "camat.x"
    assert row["expires_at"].replace(microsecond=0) == claims.expires_at  # JWT exp: seconds
    assert await tokens.revoke(db, claims.jti) is True
    assert await tokens.revoke(db, claims.jti) is False  # already revoked
    assert await tokens.revoke(db, uuid.uuid4()) is False  # never issued


async def test_inactive_or_unknown_operators_get_no_token_and_readers_prefer_the_viewer(
    db: asyncpg.Connection,
) -> None:
    assert await tokens.active_operator(db, "gone.1") is None
    assert await tokens.active_operator(db, "nobody") is None
    reader = await tokens.reader(db)
    assert reader is not None and reader.id == "viewer.1"
    await db.execute("UPDATE operators SET active = false WHERE id = 'viewer.1'")
    reader = await tokens.reader(db)
    assert reader is not None and reader.id == "admin.1"


async def test_many_tokens_are_recorded_in_one_go(db: asyncpg.Connection) -> None:
    ops = [op for op in [await tokens.active_operator(db, i) for i in ("admin.1", "camat.x")] if op]
    issued = await tokens.issue_tokens(db, TEST_TOKEN_SECRET, ops, ttl=timedelta(minutes=5))
    assert set(issued) == {"admin.1", "camat.x"}
    jtis = {claims.jti for _, claims in issued.values()}
    stored = {r["jti"] for r in await db.fetch("SELECT jti FROM operator_tokens")}
    assert stored == jtis
