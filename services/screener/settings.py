"""Screener settings, from environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.screener.alerts import AlertRule, rules_from_json
from services.screener.screens import Action, ScreenConfig
from shared.screens import CODES
from shared.settings import CommonSettings
from shared.silence import CountingHours
from shared.silence_settings import silence_settings


class ScreenerSettings(CommonSettings):
    """How often to screen, which channel wakes it, which screens hold a TPS, the ops port."""

    ops_host: str = Field(default="127.0.0.1", validation_alias="SCREENER_HOST")
    ops_port: int = Field(default=8004, validation_alias="SCREENER_PORT")
    # A run starts at most this often, however many NOTIFYs arrive, and at least this often
    # when none does (a NOTIFY can be lost while the connection is down).
    min_interval_s: float = Field(default=1.0, gt=0, validation_alias="SCREENER_MIN_INTERVAL_S")
    max_interval_s: float = Field(default=15.0, gt=0, validation_alias="SCREENER_MAX_INTERVAL_S")
    # Comma-separated screen codes whose findings hold the TPS (quarantine); the rest flag.
    hold_codes: str = Field(default="", validation_alias="SCREENER_HOLD_CODES")

    def screen_config(self) -> ScreenConfig:
        """The screens' configuration: default thresholds, actions from SCREENER_HOLD_CODES."""
        codes = [c.strip() for c in self.hold_codes.split(",") if c.strip()]
        unknown = sorted(set(codes) - set(CODES))
        if unknown:
            raise ValueError(f"SCREENER_HOLD_CODES: unknown screen codes {unknown}")
        return ScreenConfig(actions=dict.fromkeys(codes, Action.HOLD))

    # Desk alerts (services/screener/alerts.py): evaluated this often, and on every NOTIFY
    # deskpemilu_desk (an incident recorded); rules as JSON, empty for the defaults.
    alerts_enabled: bool = Field(default=True, validation_alias="SCREENER_ALERTS")
    alert_interval_s: float = Field(
        default=10.0, gt=0, validation_alias="SCREENER_ALERT_INTERVAL_S"
    )
    alert_rules: str = Field(default="", validation_alias="SCREENER_ALERT_RULES")
    # Comma-separated WhatsApp numbers of the desk's coordinators; empty: alerts are not sent.
    alert_coordinators: str = Field(default="", validation_alias="SCREENER_ALERT_COORDINATORS")
    alert_max_attempts: int = Field(default=6, ge=1, validation_alias="SCREENER_ALERT_MAX_ATTEMPTS")
    alert_backoff_s: float = Field(default=2.0, gt=0, validation_alias="SCREENER_ALERT_BACKOFF_S")
    alert_backoff_cap_s: float = Field(
        default=300.0, gt=0, validation_alias="SCREENER_ALERT_BACKOFF_CAP_S"
    )
    # The aggregator's consumer group (its offsets in PostgreSQL measure the pipeline's lag).
    aggregator_group: str = Field(default="aggregator", validation_alias="AGGREGATOR_GROUP")
    # The WhatsApp Cloud API, as the intake reaches it (shared.whatsapp).
    whatsapp_api_base: str = Field(
        default="https://graph.facebook.com/v21.0", validation_alias="WHATSAPP_API_BASE"
    )
    whatsapp_phone_number_id: str = Field(default="", validation_alias="WHATSAPP_PHONE_NUMBER_ID")
    whatsapp_access_token: SecretStr | None = Field(
        default=None, validation_alias="WHATSAPP_ACCESS_TOKEN"
    )
    whatsapp_timeout_s: float = Field(
        default=5.0, gt=0, validation_alias="SCREENER_WHATSAPP_TIMEOUT_S"
    )

    def rules(self) -> tuple[AlertRule, ...]:
        """The alert rules: SCREENER_ALERT_RULES, or the defaults."""
        return rules_from_json(self.alert_rules)

    def coordinators(self) -> list[str]:
        """The coordinators' numbers as E.164 digits ('0812...' becomes '62812...')."""
        out = []
        for raw in self.alert_coordinators.split(","):
            digits = "".join(ch for ch in raw if ch.isdigit())
            if digits:
                out.append("62" + digits[1:] if digits.startswith("0") else digits)
        return out

    def counting_hours(self) -> CountingHours:
        """The counting window of the stalled rule: SILENT_COUNTING_* (shared.silence_settings)."""
        return silence_settings().hours
