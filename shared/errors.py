"""The one shape of every error a person reads: machine code, Indonesian and English text."""

from __future__ import annotations


class BilingualError(Exception):
    """An error with a stable code and a message in Indonesian (pesan) and English (message)."""

    def __init__(self, code: str, pesan: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.pesan = pesan
        self.message = message
