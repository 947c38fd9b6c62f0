"""The one bearer-token check of the HTTP services (intake, api), with no database on its path.

`TokenVerifier.verify_header` parses `Authorization: Bearer <token>`, checks the signature once
per token (verified claims are kept in a bounded LRU cache), the expiry on every call, and the
jti against the revocation list held in memory. The service refreshes that list in the
background with `refresh_revoked` (this module's one query), so a revoked token is refused
within one refresh interval and no request waits for PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from cachetools import LRUCache
from fastapi import Request
from fastapi.security import HTTPBearer

from shared.auth import Claims, TokenError, token_expired, verify_token
from shared.events import utcnow

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]

_REVOKED_SQL = "SELECT jti FROM operator_tokens WHERE revoked_at IS NOT NULL AND expires_at > now()"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' header value, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None


class BearerHeader(HTTPBearer):
    """The OpenAPI `bearer` security scheme; at request time it only hands over the raw header.

    FastAPI's HTTPBearer builds a credentials model on every request, and the verifier parses the
    header again anyway (`bearer_token`); on a hot route that model is pure cost.
    """

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        """The request's Authorization header as sent, or None."""
        return request.headers.get("authorization")


def token_missing() -> TokenError:
    """No bearer token where one is needed."""
    return TokenError(
        "TOKEN_MISSING",
        "Token diperlukan (header Authorization: Bearer <token>).",
        "A token is required (header Authorization: Bearer <token>).",
    )


def token_revoked() -> TokenError:
    """A token whose jti was revoked."""
    return TokenError("TOKEN_REVOKED", "Token sudah dicabut.", "The token has been revoked.")


async def fetch_revoked_jtis(conn: Conn) -> frozenset[uuid.UUID]:
    """Ids of revoked tokens that have not expired yet (expired ones fail on their own)."""
    return frozenset(r["jti"] for r in await conn.fetch(_REVOKED_SQL))


class TokenVerifier:
    """Signature (cached per token), expiry and revocation of operator tokens, in memory."""

    def __init__(self, secret: str, *, max_entries: int = 50_000) -> None:
        self._secret = secret
        self._good: LRUCache[str, Claims] = LRUCache(maxsize=max_entries)
        self.revoked: frozenset[uuid.UUID] = frozenset()
        self.revocations_loaded = False  # False until the first refresh_revoked

    def claims(self, token: str) -> Claims:
        """The token's claims after signature and expiry checks; raises TokenError."""
        claims = self._good.get(token)
        if claims is None:
            claims = verify_token(self._secret, token)
            self._good[token] = claims
        elif claims.expires_at <= utcnow():
            self._good.pop(token, None)
            raise token_expired()
        return claims

    def check_revoked(self, claims: Claims) -> None:
        """Raise TokenError when the token was revoked (as of the last refresh)."""
        if claims.jti in self.revoked:
            raise token_revoked()

    def verify(self, token: str) -> Claims:
        """Claims of a valid, unexpired, unrevoked token; raises TokenError."""
        claims = self.claims(token)
        self.check_revoked(claims)
        return claims

    def verify_header(self, authorization: str | None) -> Claims:
        """verify() on the token of an Authorization header; TOKEN_MISSING without one."""
        token = bearer_token(authorization)
        if token is None:
            raise token_missing()
        return self.verify(token)

    def set_revoked(self, jtis: Iterable[uuid.UUID]) -> None:
        """Replace the revocation list."""
        self.revoked = frozenset(jtis)
        self.revocations_loaded = True

    async def refresh_revoked(self, conn: Conn) -> None:
        """Re-read the revocation list from PostgreSQL."""
        self.set_revoked(await fetch_revoked_jtis(conn))
