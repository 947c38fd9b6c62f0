"""Read API settings, from environment variables; the token secret has no default."""

from __future__ import annotations

from pydantic import Field

from shared.settings import TokenSettings


class ApiSettings(TokenSettings):
    """HTTP bind address and database pool size."""

    host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    port: int = Field(default=8000, validation_alias="API_PORT")
