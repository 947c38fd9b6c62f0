"""Settings base: every process is configured from environment variables, validated at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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


class LocalSecrets(BaseSettings):
    """The secrets a local stack generates once and keeps in a dotenv file (.run/secrets.env).

    Read with pydantic-settings' env_file support, from the file only: the process environment
    is applied on top by whoever loads them (a value set there always wins).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    deskpemilu_token_secret: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    sms_auth_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, dotenv_settings)

    @classmethod
    def read(cls, path: Path) -> LocalSecrets:
        """The secrets stored in a dotenv file; none when it does not exist."""
        return cls(_env_file=path)

    def as_environment(self) -> dict[str, str]:
        """The stored secrets as environment variables (NAME=value), unset ones left out."""
        return {
            name.upper(): value.get_secret_value()
            for name, value in self
            if isinstance(value, SecretStr)
        }
