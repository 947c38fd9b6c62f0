"""FastAPI dependencies: the intake core, the authenticated operator, the rate limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from services.intake.directory import Directory
from services.intake.ratelimit import RateLimiter
from services.intake.schemas import IntakeError
from services.intake.settings import IntakeSettings
from services.intake.submissions import Intake, refusal_error
from shared.auth import TokenError
from shared.events import OperatorRef
from shared.policy import submit_role_refusal
from shared.tokens import BearerHeader, TokenVerifier, bearer_token, token_missing

_bearer = BearerHeader(
    scheme_name="HTTPBearer",
    auto_error=False,
    description="Operator token: `deskpemilu operators token`",
)


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


def authenticate(state: State, authorization: str | None) -> OperatorRef:
    """The operator of a request's bearer token; IntakeError 401/503 otherwise.

    A plain function as well as a dependency: the hot path calls it directly, since FastAPI's
    per-request dependency solving costs more than the check itself.
    """
    tokens: TokenVerifier = state.tokens
    directory: Directory = state.directory
    try:
        token = bearer_token(authorization)
        if token is None:
            raise token_missing()
        claims = tokens.claims(token)
        if not tokens.revocations_loaded:
            raise directory_unavailable(state.settings.retry_after_s)
        tokens.check_revoked(claims)
    except TokenError as exc:
        raise unauthorized(exc.code, exc.pesan, exc.message) from exc
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


# The Authorization header, documented in the OpenAPI as the bearer scheme.
Authorization = Annotated[str | None, Depends(_bearer)]


async def _current_operator(request: Request, authorization: Authorization) -> OperatorRef:
    return authenticate(request.app.state, authorization)


CurrentOperator = Annotated[OperatorRef, Depends(_current_operator)]


async def _submitting_operator(request: Request, authorization: Authorization) -> OperatorRef:
    # One step, not a chain over CurrentOperator: each dependency level costs on the hot path.
    state = request.app.state
    return may_submit(state, authenticate(state, authorization))


SubmittingOperator = Annotated[OperatorRef, Depends(_submitting_operator)]
