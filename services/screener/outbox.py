"""The coordinators' WhatsApp outbox: desk alerts are queued, sent in the background, retried.

Nothing here is on the screening path: `enqueue` never waits (a full queue drops and counts),
a worker sends each message to each coordinator through the one Cloud API client
(shared.whatsapp), retries a failed recipient with exponential backoff up to max_attempts, and
counts every failure (deskpemilu_screener_alert_send_failures_total). The alert's row records
the attempts and, once every coordinator has it, notified_at; alerts unsent at a restart are
queued again from the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from services.screener import metrics
from shared.whatsapp import WhatsAppClient

log = logging.getLogger(__name__)

MarkAttempt = Callable[[int, bool], Awaitable[None]]


@dataclass(slots=True)
class _Job:
    alert_id: int
    text: str
    recipients: list[str]
    attempt: int = 0


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """The wait before retry number `attempt` (1, 2, ...): base * 2^(attempt-1), capped, +-20%."""
    wait = min(cap_s, base_s * (2 ** max(attempt - 1, 0)))
    return float(wait * random.uniform(0.8, 1.2))  # jitter, not a secret


class AlertOutbox:
    """A bounded queue of alert messages and one background sender."""

    def __init__(
        self,
        client: WhatsAppClient | None,
        coordinators: list[str],
        mark_attempt: MarkAttempt,
        *,
        max_attempts: int,
        backoff_base_s: float,
        backoff_cap_s: float,
        max_queue: int = 1000,
    ) -> None:
        self._client = client
        self._coordinators = coordinators
        self._mark = mark_attempt
        self._max_attempts = max_attempts
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        """False without coordinators or a WhatsApp client: alerts are only shown, not sent."""
        return self._client is not None and bool(self._coordinators)

    def start(self) -> None:
        """Run the sender in the background."""
        self._task = asyncio.create_task(self._work(), name="alert-outbox")

    async def stop(self) -> None:
        """Stop sending; what is still queued is sent after the next start (it is in the table)."""
        tasks = [t for t in (self._task, *self._retries) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    def enqueue(self, alert_id: int, text: str) -> None:
        """Queue an alert for every coordinator; never waits."""
        if not self.enabled:
            return
        self._put(_Job(alert_id, text, list(self._coordinators)))

    def _put(self, job: _Job) -> None:
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            metrics.ALERT_SENDS.labels("dropped").inc(len(job.recipients))
            log.warning("alert outbox full; alert not sent", extra={"alert_id": job.alert_id})
        metrics.ALERT_QUEUE.set(self._queue.qsize())

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            metrics.ALERT_QUEUE.set(self._queue.qsize())
            try:
                await self._send(job)
            except Exception:  # never let one job stop the outbox
                log.exception("alert send failed unexpectedly", extra={"alert_id": job.alert_id})
            finally:
                self._queue.task_done()

    async def _send_one(self, to: str, text: str) -> bool:
        assert self._client is not None
        try:
            response = await self._client.send_text(to, text)
        except httpx.HTTPError as exc:
            log.warning("alert not sent", extra={"to": to, "error": str(exc)})
            return False
        if not response.is_success:
            log.warning(
                "alert refused",
                extra={"to": to, "status": response.status_code, "body": response.text[:300]},
            )
        return response.is_success

    async def _send(self, job: _Job) -> None:
        job.attempt += 1
        failed: list[str] = []
        for to in job.recipients:
            if await self._send_one(to, job.text):
                metrics.ALERT_SENDS.labels("sent").inc()
            else:
                metrics.ALERT_SEND_FAILURES.inc()
                failed.append(to)
        with contextlib.suppress(Exception):  # the table is bookkeeping; sending goes on
            await self._mark(job.alert_id, not failed)
        if not failed:
            return
        if job.attempt >= self._max_attempts:
            metrics.ALERT_SENDS.labels("gave_up").inc(len(failed))
            log.error("alert not delivered, retries exhausted", extra={"alert_id": job.alert_id})
            return
        metrics.ALERT_SENDS.labels("failed").inc(len(failed))
        job.recipients = failed
        task = asyncio.create_task(self._retry_later(job))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry_later(self, job: _Job) -> None:
        await asyncio.sleep(backoff_s(job.attempt, self._base, self._cap))
        self._put(job)

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) until the queue is empty; for tests and shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)
