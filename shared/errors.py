"""The one shape of every error a person reads: machine code, Indonesian and English text.

`BilingualError` is the base of every error a service answers with (the api's ApiError, the
intake's IntakeError, TokenError); `translate_errors` gives pydantic's validation errors the
same two languages, field by field. shared.http_errors installs the handlers that answer them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """One problem with one field (or one item of a batch)."""

    field: str | None = None
    code: str
    pesan: str
    message: str


class BilingualError(Exception):
    """An error with a stable code and a message in Indonesian (pesan) and English (message).

    Raised on a request path it is answered with `status`, `headers` and `body()`.
    """

    def __init__(
        self,
        code: str,
        pesan: str,
        message: str,
        *,
        status: int = 400,
        details: Iterable[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.pesan = pesan
        self.message = message
        self.status = status
        self.details = list(details)
        self.response_headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of this error: {code, pesan, message, details}."""
        return {
            "code": self.code,
            "pesan": self.pesan,
            "message": self.message,
            "details": [d.model_dump() for d in self.details],
        }


class HttpError(BilingualError):
    """A BilingualError raised on a request path, written status first (the services' errors).

    retry_after (seconds) becomes a Retry-After header, for 429 and 503.
    """

    def __init__(
        self,
        status: int,
        code: str,
        pesan: str,
        message: str,
        *,
        details: Iterable[ErrorDetail] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        if retry_after is not None:
            headers = {**(headers or {}), "Retry-After": str(retry_after)}
        super().__init__(
            code, pesan, message, status=status, details=details or (), headers=headers
        )
        self.retry_after = retry_after


# Indonesian for pydantic's error types; {..} are filled from the error's ctx.
_PESAN: dict[str, str] = {
    "missing": "wajib diisi",
    "extra_forbidden": "kolom tidak dikenal",
    "int_parsing": "harus bilangan bulat",
    "int_type": "harus bilangan bulat",
    "int_from_float": "harus bilangan bulat, tanpa pecahan",
    "float_parsing": "harus angka",
    "float_type": "harus angka",
    "bool_parsing": "harus true atau false",
    "bool_type": "harus true atau false",
    "greater_than_equal": "harus paling kecil {ge}",
    "greater_than": "harus lebih dari {gt}",
    "less_than_equal": "harus paling besar {le}",
    "less_than": "harus kurang dari {lt}",
    "string_type": "harus teks",
    "string_too_short": "terlalu pendek (paling sedikit {min_length} huruf)",
    "string_too_long": "terlalu panjang (paling banyak {max_length} huruf)",
    "string_pattern_mismatch": "bentuknya tidak sesuai",
    "enum": "harus salah satu dari: {expected}",
    "literal_error": "harus salah satu dari: {expected}",
    "dict_type": "harus objek JSON",
    "model_type": "harus objek JSON",
    "model_attributes_type": "harus objek JSON",
    "list_type": "harus daftar (array JSON)",
    "tuple_type": "harus daftar (array JSON)",
    "too_short": "terlalu sedikit isinya (paling sedikit {min_length})",
    "too_long": "terlalu banyak isinya (paling banyak {max_length})",
    "json_invalid": "JSON tidak sah",
    "json_type": "harus JSON",
    "uuid_parsing": "harus UUID",
    "uuid_type": "harus UUID",
    "datetime_parsing": "harus tanggal dan jam ISO 8601",
    "datetime_type": "harus tanggal dan jam ISO 8601",
}


def _field_path(loc: Sequence[int | str], drop_prefix: int) -> str | None:
    parts = [str(p) for p in loc[drop_prefix:]]
    return ".".join(parts) if parts else None


def _split_bilingual(text: str) -> tuple[str, str]:
    """Our own ValueErrors read 'Indonesian / English'; others are English only."""
    indonesian, sep, english = text.partition(" / ")
    if sep:
        return indonesian.strip(), english.strip()
    return "isian tidak sah: " + text, text


def translate_errors(
    errors: Iterable[Mapping[str, Any]], *, drop_prefix: int = 0
) -> list[ErrorDetail]:
    """One bilingual detail per pydantic error; drop_prefix removes leading loc parts ('body')."""
    details: list[ErrorDetail] = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        ctx = dict(error.get("ctx") or {})
        english = str(error.get("msg", "Invalid value"))
        if kind in ("value_error", "assertion_error") and "error" in ctx:
            indonesian, english = _split_bilingual(str(ctx["error"]))
        else:
            template = _PESAN.get(kind, "isian tidak sah")
            try:
                indonesian = template.format(**ctx)
            except (KeyError, IndexError):
                indonesian = template
        details.append(
            ErrorDetail(
                field=_field_path(tuple(error.get("loc", ())), drop_prefix),
                code=kind,
                pesan=indonesian,
                message=english,
            )
        )
    return details


INVALID_PESAN = "Isian tidak sah; lihat details per kolom."
INVALID_MESSAGE = "The request is not valid; see details per field."
