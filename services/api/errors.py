"""Bilingual API errors: a stable machine code plus a message in Indonesian and in English.

Answered by shared.http_errors' handlers, installed on the app in create_app.
"""

from __future__ import annotations

from shared.errors import HttpError
from shared.policy import Refusal


class ApiError(HttpError):
    """An error answered as {code, pesan, message, details} with its HTTP status."""


def refusal_error(refused: Refusal) -> ApiError:
    """403 of a shared.policy refusal, with its code (the validator refuses with the same)."""
    return ApiError(403, refused.code, refused.pesan, refused.message)


def not_found(what_id: str, what_en: str) -> ApiError:
    """404 naming what was not found."""
    return ApiError(404, "NOT_FOUND", f"{what_id} tidak ditemukan.", f"{what_en} not found.")
