"""Settings base: every process is configured from environment variables, validated at start."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import Topics


class CommonSettings(BaseSettings):
    """What every process needs: where Kafka and PostgreSQL are, and how to log."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"
    topic_prefix: str = ""  # isolates tests, or a second desk on a shared cluster
    topic_partitions: int = Field(default=12, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)

    @property
    def topics(self) -> Topics:
        """Topic names under this deployment's prefix."""
        return Topics(self.topic_prefix)


class TokenSettings(CommonSettings):
    """Processes that verify operator tokens need the signing secret: no default, fail fast."""

    token_secret: SecretStr = Field(validation_alias="DESKPEMILU_TOKEN_SECRET")

    @field_validator("token_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("DESKPEMILU_TOKEN_SECRET must be at least 32 characters")
        return value
