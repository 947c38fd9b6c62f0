"""The intake's bilingual texts for validation errors: shared.errors', named here for its routes."""

from __future__ import annotations

from shared.errors import INVALID_MESSAGE, INVALID_PESAN, translate_errors

__all__ = ["INVALID_MESSAGE", "INVALID_PESAN", "translate_errors"]
