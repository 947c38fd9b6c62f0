"""FastAPI dependencies: the intake core, the authenticated operator, the rate limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.intake.directory import Directory
from services.intake.ratelimit import RateLimiter
from services.intake.schemas import IntakeError
from services.intake.settings import IntakeSettings
from services.intake.submissions import Intake
from shared.auth import TokenError, verify_token
from shared.events import OperatorRef, Role

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


async def _current_operator(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: SettingsDep,
    directory: DirectoryDep,
) -> OperatorRef:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized(
            "TOKEN_MISSING",
            "Token operator tidak ada (header Authorization: Bearer <token>).",
            "No operator token (header Authorization: Bearer <token>).",
        )
    try:
        claims = verify_token(settings.token_secret.get_secret_value(), credentials.credentials)
    except TokenError as exc:
        raise unauthorized(exc.code, exc.pesan, exc.message) from exc
    if not directory.loaded:
        raise directory_unavailable(settings.retry_after_s)
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


CurrentOperator = Annotated[OperatorRef, Depends(_current_operator)]


async def _submitting_operator(
    operator: CurrentOperator, settings: SettingsDep, limiter: LimiterDep
) -> OperatorRef:
    if operator.role is Role.VIEWER:
        raise IntakeError(
            403,
            "ROLE_VIEWER",
            "Akun viewer hanya boleh membaca, tidak boleh mengirim hasil.",
            "A viewer account may read but not submit results.",
        )
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


SubmittingOperator = Annotated[OperatorRef, Depends(_submitting_operator)]
