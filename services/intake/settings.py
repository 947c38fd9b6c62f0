"""Intake settings, from environment variables; secrets have no defaults."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import TokenSettings


class IntakeSettings(TokenSettings):
    """HTTP bind address, Kafka publishing limits, caches, rate limit and channel secrets."""

    host: str = Field(default="127.0.0.1", validation_alias="INTAKE_HOST")
    port: int = Field(default=8001, validation_alias="INTAKE_PORT")
    # Upper bound of the wait for Kafka's acknowledgement; past it the client gets 503.
    publish_timeout_s: float = Field(default=5.0, gt=0, validation_alias="INTAKE_PUBLISH_TIMEOUT_S")
    retry_after_s: int = Field(default=5, ge=1, validation_alias="INTAKE_RETRY_AFTER_S")
    producer_linger_ms: int = Field(default=2, ge=0, validation_alias="INTAKE_PRODUCER_LINGER_MS")
    producer_retry_s: float = Field(default=2.0, gt=0, validation_alias="INTAKE_PRODUCER_RETRY_S")
    # Operator directory and revoked tokens are read from PostgreSQL this often, never per request.
    directory_refresh_s: float = Field(
        default=10.0, gt=0, validation_alias="INTAKE_DIRECTORY_REFRESH_S"
    )
    idempotency_cache_size: int = Field(
        default=100_000, ge=1, validation_alias="INTAKE_IDEMPOTENCY_CACHE"
    )
    rate_per_s: float = Field(default=10.0, gt=0, validation_alias="INTAKE_RATE_PER_S")
    rate_burst: int = Field(default=30, ge=1, validation_alias="INTAKE_RATE_BURST")
    batch_max_items: int = Field(default=500, ge=1, validation_alias="INTAKE_BATCH_MAX_ITEMS")
    upload_max_rows: int = Field(default=5000, ge=1, validation_alias="INTAKE_UPLOAD_MAX_ROWS")
    upload_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1, validation_alias="INTAKE_UPLOAD_MAX_BYTES"
    )
    photo_max_bytes: int = Field(
        default=12 * 1024 * 1024, ge=1, validation_alias="INTAKE_PHOTO_MAX_BYTES"
    )
    # A WhatsApp photo without a caption naming its TPS goes to the sender's latest form if
    # that form came within this many seconds; otherwise the sender is asked which TPS.
    photo_link_window_s: float = Field(
        default=1800.0, gt=0, validation_alias="INTAKE_PHOTO_LINK_WINDOW_S"
    )
    # Election a WhatsApp/SMS text belongs to; empty: the newest loaded election with its contest.
    text_election: str = Field(default="", validation_alias="INTAKE_TEXT_ELECTION")

    whatsapp_app_secret: SecretStr = Field(validation_alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr = Field(validation_alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_access_token: SecretStr | None = Field(
        default=None, validation_alias="WHATSAPP_ACCESS_TOKEN"
    )
    whatsapp_api_base: str = Field(
        default="https://graph.facebook.com/v21.0", validation_alias="WHATSAPP_API_BASE"
    )
    whatsapp_phone_number_id: str = Field(default="", validation_alias="WHATSAPP_PHONE_NUMBER_ID")

    sms_auth_token: SecretStr = Field(validation_alias="SMS_AUTH_TOKEN")
    # The public URL the gateway signs; behind a proxy the URL seen here differs from it.
    sms_webhook_url: str = Field(default="", validation_alias="SMS_WEBHOOK_URL")
    # Twilio-style REST endpoint for verdicts by SMS; empty: SMS verdicts are not sent.
    sms_api_base: str = Field(default="", validation_alias="SMS_API_BASE")
    sms_account_sid: str = Field(default="", validation_alias="SMS_ACCOUNT_SID")
    sms_from_number: str = Field(default="", validation_alias="SMS_FROM_NUMBER")

    notifier_enabled: bool = Field(default=True, validation_alias="INTAKE_NOTIFIER_ENABLED")
    notifier_group: str = Field(default="intake-notifier", validation_alias="INTAKE_NOTIFIER_GROUP")
    # A new notifier group starts at the earliest offset; verdicts older than this are not sent.
    notifier_max_age_s: float = Field(
        default=3600.0, gt=0, validation_alias="INTAKE_NOTIFIER_MAX_AGE_S"
    )
    # A reply may wait this long to share a fetch with others: the notifier reads every verdict
    # and most need no reply, so fewer, fuller fetches (the broker holds them, fetch_settings).
    notifier_linger_ms: int = Field(
        default=500, ge=0, le=5000, validation_alias="INTAKE_NOTIFIER_LINGER_MS"
    )
    # Demo operators carry made-up numbers: nothing is sent to them unless a demo says so.
    reply_to_demo_operators: bool = Field(
        default=False, validation_alias="INTAKE_REPLY_TO_DEMO_OPERATORS"
    )
    reply_timeout_s: float = Field(default=5.0, gt=0, validation_alias="INTAKE_REPLY_TIMEOUT_S")
