"""Reminders by WhatsApp to the operators of silent TPS: off by default, rate-limited, recorded.

When ``SILENT_REMINDERS_ENABLED`` is on, the intake looks every ``SILENT_REMINDER_CHECK_S``
for the TPS of the election (``INTAKE_TEXT_ELECTION``, else the newest) with a contest not yet
counted. Inside the counting hours and once ``SILENT_REMINDER_AFTER_MINUTES`` of counting time
have passed, each responsible operator (shared.silence.responsible_for) gets one text naming
their silent TPS, through the same Cloud API client as the verdict replies (demo numbers are
skipped like every reply). A reminder is claimed in ``silent_reminders`` before it is sent, so
no operator gets a second one within ``SILENT_REMINDER_INTERVAL_MINUTES``, whatever the number
of intake replicas; a send the API refused is marked failed and tried again at the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.intake import metrics
from services.intake.notifier import Replier, Reply
from services.intake.repository_reminders import (
    claim_reminder,
    fetch_field_operators,
    fetch_silent_pairs,
    finish_reminder,
    newest_election,
)
from services.intake.settings import IntakeSettings
from shared.db import connect
from shared.events import Channel, utcnow
from shared.silence import Responsible, idle_time, in_counting_hours, responsible_for
from shared.silence_settings import SilenceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Due:
    """What one operator is reminded of: their silent TPS with the contests missing at each."""

    operator: Responsible
    tps: tuple[tuple[str, tuple[str, ...]], ...]


def reminders_due(pairs: Iterable[tuple[str, str]], operators: Sequence[Responsible]) -> list[Due]:
    """Group the silent (TPS, contest) pairs by responsible operator (pure), by operator id."""
    missing: dict[str, list[str]] = {}
    for tps, contest in pairs:
        missing.setdefault(tps, []).append(contest)
    per_operator: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    by_id = {op.id: op for op in operators}
    for tps in sorted(missing):
        for op in responsible_for(tps, operators):
            per_operator.setdefault(op.id, []).append((tps, tuple(sorted(missing[tps]))))
    return [Due(by_id[op_id], tuple(items)) for op_id, items in sorted(per_operator.items())]


def reminder_text(due: Due, max_tps: int) -> str:
    """The WhatsApp text: the first ``max_tps`` silent TPS, in Indonesian then English."""
    shown = due.tps[:max_tps]
    lines = [f"- TPS {tps}: {', '.join(contests)}" for tps, contests in shown]
    more = len(due.tps) - len(shown)
    if more:
        lines.append(f"- dan {more} TPS lain / and {more} more TPS")
    return (
        "Desk Pemilu: hasil TPS berikut belum kami terima. Mohon kirim segera.\n"
        "Desk Pemilu: we have not received these TPS results yet. Please send them soon.\n"
        + "\n".join(lines)
    )


class SilentReminders:
    """The background check; ``check_once`` is the whole rule, the loop only paces it."""

    def __init__(
        self, settings: IntakeSettings, silence: SilenceSettings, replier: Replier
    ) -> None:
        self._settings = settings
        self._silence = silence
        self._replier = replier
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start checking, if reminders are switched on."""
        if self._silence.reminders_enabled:
            self._task = asyncio.create_task(self._run(), name="silent-reminders")

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # a database hiccup must not end the reminders for the day
                log.exception("silent reminders check failed")
            await asyncio.sleep(self._silence.reminder_check_s)

    def due_now(self, now: datetime) -> bool:
        """Inside the counting hours, and long enough after counting opened."""
        hours = self._silence.hours
        after = timedelta(minutes=self._silence.reminder_after_minutes)
        return in_counting_hours(now, hours) and idle_time(None, now, hours) >= after

    async def check_once(self, now: datetime | None = None) -> int:
        """Send the reminders due at ``now``; returns how many were sent."""
        now = now or utcnow()
        if not self.due_now(now):
            return 0
        conn = await connect(self._settings.database_url)
        try:
            election = self._settings.text_election or await newest_election(conn)
            if election is None:
                return 0
            pairs = await fetch_silent_pairs(conn, election)
            operators = [
                Responsible(r["id"], tuple(r["scope"]), r["phone"], r["name"])
                for r in await fetch_field_operators(conn)
            ]
            sent = 0
            for due in reminders_due(pairs, operators):
                sent += await self._remind(conn, election, due, now)
            return sent
        finally:
            await conn.close()

    async def _remind(
        self, conn: asyncpg.Connection, election: str, due: Due, now: datetime
    ) -> int:
        phone = due.operator.phone
        if not phone or not self._replier.may_send_to(phone):
            metrics.REMINDERS.labels("demo_skipped").inc()
            return 0
        text = reminder_text(due, self._silence.reminder_max_tps)
        shown = due.tps[: self._silence.reminder_max_tps]
        claimed = await claim_reminder(
            conn,
            election=election,
            operator_id=due.operator.id,
            phone=phone,
            tps=[tps for tps, _ in shown],
            contests=sorted({c for _, contests in shown for c in contests}),
            text=text,
            now=now,
            interval=timedelta(minutes=self._silence.reminder_interval_minutes),
        )
        if claimed is None:
            metrics.REMINDERS.labels("rate_limited").inc()
            return 0
        ok = await self._replier.send(Reply(Channel.WHATSAPP, phone, text))
        await finish_reminder(conn, claimed, sent=ok, at=utcnow())
        metrics.REMINDERS.labels("sent" if ok else "failed").inc()
        return int(ok)
