"""Settings of silent TPS, the stalled mark, reminders and the activity report, in one place.

Read from the environment (``SILENT_*``) by every process that judges silence: the api (the
silent-TPS view, the activity report), the intake (reminders) and the desk alerts. The rules
themselves are the pure functions of shared/silence.py.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.silence import WIB, CountingHours, StallPolicy


class SilenceSettings(BaseSettings):
    """Stall threshold, counting hours (WIB), chart buckets, reminders, the allowance deadline."""

    model_config = SettingsConfigDict(
        env_prefix="SILENT_", env_file=None, extra="ignore", frozen=True
    )

    # An area is stalled after this much counting time without progress.
    stall_minutes: float = Field(default=60.0, gt=0)
    # Counting hours, wall clock in WIB; an end at or before the start runs past midnight,
    # equal start and end mean all day.
    counting_start: time = time(13, 0)
    counting_end: time = time(0, 0)
    # Width of one step of the received-over-time chart.
    bucket_minutes: int = Field(default=15, ge=1, le=24 * 60)

    # Reminders to the operators of silent TPS by WhatsApp: off unless switched on.
    reminders_enabled: bool = False
    # A TPS is reminded about once this much counting time passed without its result.
    reminder_after_minutes: float = Field(default=120.0, gt=0)
    # At most one reminder per operator per this many minutes (recorded in silent_reminders).
    reminder_interval_minutes: float = Field(default=60.0, gt=0)
    # How often the intake looks for TPS to remind about.
    reminder_check_s: float = Field(default=60.0, gt=0)
    # At most this many TPS named in one reminder text.
    reminder_max_tps: int = Field(default=10, ge=1)

    # The activity report's deadline: an explicit instant, or this WIB time on election day.
    activity_deadline: datetime | None = None
    activity_deadline_time: time = time(20, 0)

    @property
    def hours(self) -> CountingHours:
        """The counting hours as shared.silence takes them."""
        return CountingHours(self.counting_start, self.counting_end, WIB)

    @property
    def stall_policy(self) -> StallPolicy:
        """The stalled rule's parameters."""
        return StallPolicy(threshold=timedelta(minutes=self.stall_minutes), hours=self.hours)

    @property
    def bucket(self) -> timedelta:
        """The chart's bucket width."""
        return timedelta(minutes=self.bucket_minutes)

    def deadline_for(self, election_day: date) -> datetime:
        """The activity report's deadline for an election held on ``election_day``."""
        if self.activity_deadline is not None:
            if self.activity_deadline.tzinfo is None:
                return self.activity_deadline.replace(tzinfo=WIB)
            return self.activity_deadline
        return datetime.combine(election_day, self.activity_deadline_time, WIB)


@lru_cache(maxsize=1)
def silence_settings() -> SilenceSettings:
    """The process's settings, read from the environment once."""
    return SilenceSettings()
