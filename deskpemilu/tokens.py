"""Operator bearer tokens issued and revoked by the desk: a signed JWT plus its operator_tokens row.

Signing is shared.auth's; the row is what lets a token be revoked (`deskpemilu operators revoke`)
and what the intake and the api check on every refresh. The command line and the simulator issue
tokens only through here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shared.auth import Claims, issue_token
from shared.events import OperatorRef, Role
from shared.roster_db import Conn

_OPERATOR = "SELECT id, name, role, scope FROM operators WHERE id = $1 AND active"
# The roster's viewer if it has one, else an admin: read-only commands need a reader's token.
_READER = """
SELECT id, name, role, scope FROM operators WHERE active AND role IN ('viewer', 'admin')
ORDER BY role = 'viewer' DESC, id LIMIT 1
"""
_RECORD = "INSERT INTO operator_tokens (jti, operator_id, expires_at) VALUES ($1, $2, $3)"
_REVOKE = "UPDATE operator_tokens SET revoked_at = now() WHERE jti = $1 AND revoked_at IS NULL"


def _operator(row: Any) -> OperatorRef:
    return OperatorRef(
        id=row["id"], role=Role(row["role"]), scope=tuple(row["scope"]), name=row["name"]
    )


async def active_operator(conn: Conn, operator_id: str) -> OperatorRef | None:
    """A registered, active operator by id."""
    row = await conn.fetchrow(_OPERATOR, operator_id)
    return None if row is None else _operator(row)


async def reader(conn: Conn) -> OperatorRef | None:
    """The roster's viewer (or else an admin), for commands that only read."""
    row = await conn.fetchrow(_READER)
    return None if row is None else _operator(row)


async def issue_tokens(
    conn: Conn, secret: str, operators: Sequence[OperatorRef], *, ttl: timedelta
) -> dict[str, tuple[str, Claims]]:
    """A recorded token per operator: operator id -> (token, its claims)."""
    issued: dict[str, tuple[str, Claims]] = {}
    rows = []
    for operator in operators:
        token, claims = issue_token(secret, operator, ttl=ttl)
        issued[operator.id] = (token, claims)
        rows.append((claims.jti, operator.id, claims.expires_at))
    await conn.executemany(_RECORD, rows)
    return issued


async def issue(conn: Conn, secret: str, operator: OperatorRef, *, ttl: timedelta) -> str:
    """One recorded token for one operator."""
    return (await issue_tokens(conn, secret, [operator], ttl=ttl))[operator.id][0]


async def revoke(conn: Conn, jti: uuid.UUID) -> bool:
    """Revoke a token by id; False when no unrevoked token has that id."""
    result: str = await conn.execute(_REVOKE, jti)
    return result != "UPDATE 0"
