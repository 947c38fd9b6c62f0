"""Screener settings, from environment variables."""

from __future__ import annotations

from pydantic import Field

from services.screener.screens import CODES, Action, ScreenConfig
from shared.settings import CommonSettings


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
