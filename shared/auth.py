"""Operator bearer tokens: signed JWTs carrying role and area scope, expiring and revocable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from shared.errors import BilingualError
from shared.events import OperatorRef, Role, utcnow
from shared.policy import covers  # the scope rule lives in shared.policy; importable here too

__all__ = [
    "ALGORITHM",
    "ISSUER",
    "Claims",
    "TokenError",
    "covers",
    "issue_token",
    "token_expired",
    "verify_token",
]

ALGORITHM = "HS256"
ISSUER = "deskpemilu"


class TokenError(BilingualError):
    """A missing, malformed, badly signed, expired or revoked token: 401 with a challenge."""

    def __init__(self, code: str, pesan: str, message: str) -> None:
        super().__init__(code, pesan, message, status=401, headers={"WWW-Authenticate": "Bearer"})


def token_expired() -> TokenError:
    """A token past its expiry."""
    return TokenError("TOKEN_EXPIRED", "Token sudah kedaluwarsa.", "The token has expired.")


@dataclass(frozen=True)
class Claims:
    """What a verified token says about its bearer."""

    operator: OperatorRef
    jti: uuid.UUID
    expires_at: datetime


def issue_token(
    secret: str, operator: OperatorRef, *, ttl: timedelta, now: datetime | None = None
) -> tuple[str, Claims]:
    """Sign a token for an operator; the caller stores its jti so it can be revoked."""
    issued = now or utcnow()
    claims = Claims(operator=operator, jti=uuid.uuid4(), expires_at=issued + ttl)
    payload = {
        "iss": ISSUER,
        "sub": operator.id,
        "name": operator.name,
        "role": operator.role.value,
        "scope": list(operator.scope),
        "jti": str(claims.jti),
        "iat": int(issued.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def verify_token(secret: str, token: str) -> Claims:
    """Check signature, issuer and expiry; revocation is the caller's check on the jti."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "jti", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise token_expired() from exc
    except jwt.PyJWTError as exc:
        raise TokenError("TOKEN_INVALID", "Token tidak sah.", "The token is not valid.") from exc
    try:
        operator = OperatorRef(
            id=payload["sub"],
            role=Role(payload["role"]),
            scope=tuple(payload.get("scope", ())),
            name=payload.get("name", ""),
        )
        return Claims(
            operator=operator,
            jti=uuid.UUID(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
        )
    except (ValueError, TypeError) as exc:
        raise TokenError("TOKEN_INVALID", "Token tidak sah.", "The token is not valid.") from exc
