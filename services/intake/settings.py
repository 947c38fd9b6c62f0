"""Intake settings, from environment variables; secrets have no defaults."""

from __future__ import annotations

from pydantic import Field

from shared.settings import TokenSettings


class IntakeSettings(TokenSettings):
    """HTTP bind address, Kafka publishing limits and channel secrets."""

    host: str = Field(default="127.0.0.1", validation_alias="INTAKE_HOST")
    port: int = Field(default=8001, validation_alias="INTAKE_PORT")
    publish_timeout_s: float = Field(default=5.0, gt=0, validation_alias="INTAKE_PUBLISH_TIMEOUT_S")
