"""FastAPI dependencies: the intake core, the authenticated operator, the rate limit."""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import State

from services.intake.directory import Directory
from services.intake.ratelimit import RateLimiter
from services.intake.schemas import IntakeError
from services.intake.settings import IntakeSettings
from services.intake.submissions import Intake, refusal_error
from shared.auth import Claims, TokenError, verify_token
from shared.events import OperatorRef, utcnow
from shared.policy import submit_role_refusal

_bearer = HTTPBearer(auto_error=False, description="Operator token: `deskpemilu operators token`")


async def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def _settings(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.app.state.settings
    return settings


async def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


IntakeDep = Annotated[Intake, Depends(_intake)]
SettingsDep = Annotated[IntakeSettings, Depends(_settings)]
DirectoryDep = Annotated[Directory, Depends(_directory)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]


def unauthorized(code: str, pesan: str, message: str) -> IntakeError:
    """A 401 answer (missing, malformed, expired, revoked token, or inactive operator)."""
    return IntakeError(401, code, pesan, message)


def directory_unavailable(retry_after: int) -> IntakeError:
    """503 until the first operator directory load: revocations are not known yet."""
    return IntakeError(
        503,
        "DIRECTORY_UNAVAILABLE",
        "Daftar operator belum termuat; coba lagi sebentar lagi.",
        "The operator directory is not loaded yet; retry shortly.",
        retry_after=retry_after,
    )


class TokenVerifier:
    """verify_token with a bounded memory of good tokens: each signature is checked once."""

    def __init__(self, secret: str, max_entries: int = 50_000) -> None:
        self._secret = secret
        self._max = max_entries
        self._good: OrderedDict[str, Claims] = OrderedDict()

    def verify(self, token: str) -> Claims:
        """The token's claims; raises TokenError when it is malformed, forged or expired."""
        claims = self._good.get(token)
        if claims is None:
            claims = verify_token(self._secret, token)
            self._good[token] = claims
            if len(self._good) > self._max:
                self._good.popitem(last=False)
        elif claims.expires_at <= utcnow():
            del self._good[token]
            raise TokenError("TOKEN_EXPIRED", "Token sudah kedaluwarsa.", "The token has expired.")
        return claims


def authenticate(state: State, authorization: str | None) -> OperatorRef:
    """The operator of a request's bearer token; IntakeError 401/503 otherwise.

    A plain function as well as a dependency: the hot path calls it directly, since FastAPI's
    per-request dependency solving costs more than the check itself.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(
            "TOKEN_MISSING",
            "Token operator tidak ada (header Authorization: Bearer <token>).",
            "No operator token (header Authorization: Bearer <token>).",
        )
    verifier: TokenVerifier = state.tokens
    try:
        claims = verifier.verify(token.strip())
    except TokenError as exc:
        raise unauthorized(exc.code, exc.pesan, exc.message) from exc
    directory: Directory = state.directory
    if not directory.loaded:
        raise directory_unavailable(state.settings.retry_after_s)
    if directory.is_revoked(claims.jti):
        raise unauthorized("TOKEN_REVOKED", "Token sudah dicabut.", "The token has been revoked.")
    registered = directory.operator(claims.operator.id)
    # A token minted moments ago for an operator the directory has not seen yet is still
    # trusted by its signature; a known operator that was deactivated is not.
    if registered is not None and not registered.active:
        raise unauthorized(
            "OPERATOR_INACTIVE",
            "Akun operator ini sudah dinonaktifkan.",
            "This operator account has been deactivated.",
        )
    return claims.operator


def may_submit(state: State, operator: OperatorRef) -> OperatorRef:
    """Refuse viewers (403) and operators over their rate (429)."""
    limiter: RateLimiter = state.limiter
    refused = submit_role_refusal(operator)
    if refused is not None:
        raise refusal_error(refused)
    wait_s = limiter.acquire(operator.id)
    if wait_s is not None:
        raise IntakeError(
            429,
            "RATE_LIMITED",
            f"Terlalu banyak permintaan; tunggu {wait_s} detik.",
            f"Too many requests; wait {wait_s} s.",
            retry_after=wait_s,
        )
    return operator


async def _current_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> OperatorRef:
    return authenticate(request.app.state, request.headers.get("authorization"))


CurrentOperator = Annotated[OperatorRef, Depends(_current_operator)]


async def _submitting_operator(request: Request, operator: CurrentOperator) -> OperatorRef:
    return may_submit(request.app.state, operator)


SubmittingOperator = Annotated[OperatorRef, Depends(_submitting_operator)]
