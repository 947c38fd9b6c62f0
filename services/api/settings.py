"""Read API settings, from environment variables; the token secret has no default."""

from __future__ import annotations

from pydantic import Field

from shared.settings import TokenSettings


class ApiSettings(TokenSettings):
    """HTTP bind address, cache and live-update timing, review publishing limits."""

    # A streaming replica of DATABASE_URL to read from (results, exports, roster, revoked
    # tokens); LISTEN stays on DATABASE_URL, the primary. Unset: every read on the primary.
    read_database_url: str | None = Field(default=None, validation_alias="API_DATABASE_URL")
    # After a NOTIFY, how long to wait for the replica to replay the primary's WAL up to it
    # before the caches are dropped and the clients told anyway (a lagging replica).
    replica_wait_s: float = Field(default=5.0, gt=0, validation_alias="API_REPLICA_WAIT_S")
    host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    port: int = Field(default=8000, validation_alias="API_PORT")
    # How often the revoked-token set and the roster version are re-read from PostgreSQL.
    refresh_s: float = Field(default=10.0, gt=0, validation_alias="API_REFRESH_S")
    # A cached response is dropped on NOTIFY; this bounds staleness if a NOTIFY is ever lost.
    cache_ttl_s: float = Field(default=10.0, gt=0, validation_alias="API_CACHE_TTL_S")
    cache_max_entries: int = Field(default=20_000, ge=16, validation_alias="API_CACHE_MAX_ENTRIES")
    # Browsers may reuse a response this long before revalidating it with If-None-Match.
    client_max_age_s: int = Field(default=2, ge=0, validation_alias="API_CLIENT_MAX_AGE_S")
    sse_coalesce_s: float = Field(default=0.5, ge=0, validation_alias="API_SSE_COALESCE_S")
    sse_heartbeat_s: float = Field(default=15.0, gt=0, validation_alias="API_SSE_HEARTBEAT_S")
    sse_max_clients: int = Field(default=5_000, ge=1, validation_alias="API_SSE_MAX_CLIENTS")
    publish_timeout_s: float = Field(default=5.0, gt=0, validation_alias="API_PUBLISH_TIMEOUT_S")
    export_max_rows: int = Field(default=200_000, ge=1, validation_alias="API_EXPORT_MAX_ROWS")

    @property
    def reads_url(self) -> str:
        """Where the read pool connects: the replica when one is set, else the primary."""
        return self.read_database_url or self.database_url
