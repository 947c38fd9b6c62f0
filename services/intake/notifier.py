"""Replies to WhatsApp/SMS senders: read-backs now, and the validator's verdict later."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, ValidationError

from services.intake import metrics
from services.intake.directory import Directory
from services.intake.parser import CONTEST_NAMES
from services.intake.settings import IntakeSettings
from shared.codec import decode
from shared.consumer import fetch_settings, run_batches
from shared.events import (
    Channel,
    Severity,
    SubmissionRejected,
    SubmissionValidated,
    utcnow,
    validated_adapter,
)
from shared.kafka import kafka_client_options
from shared.whatsapp import WhatsAppClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    """One text to send to one phone number through a channel."""

    channel: Channel
    to: str
    text: str


class Replier:
    """Sends texts through the WhatsApp Cloud API (or a Twilio-style SMS API) with httpx."""

    def __init__(self, settings: IntakeSettings, directory: Directory) -> None:
        self._settings = settings
        self._directory = directory
        self._whatsapp = WhatsAppClient(
            api_base=settings.whatsapp_api_base,
            phone_number_id=settings.whatsapp_phone_number_id,
            access_token=settings.whatsapp_access_token,
            timeout_s=settings.reply_timeout_s,
        )
        self._client = self._whatsapp.http  # one connection pool for WhatsApp and SMS
        self._queue: asyncio.Queue[Reply] = asyncio.Queue(maxsize=10_000)
        self._workers: list[asyncio.Task[None]] = []

    def start(self, workers: int = 4) -> None:
        """Start the background senders that empty the outbox."""
        self._workers = [
            asyncio.create_task(self._work(), name=f"replier-{n}") for n in range(workers)
        ]

    async def stop(self, drain_s: float = 5.0) -> None:
        """Send what is queued (bounded), then stop the senders and close the client."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_s)
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    def may_send_to(self, phone: str) -> bool:
        """False for demo operators' made-up numbers unless this is a demo."""
        operator = self._directory.by_phone(phone)
        demo = operator is not None and operator.demo
        return not demo or self._settings.reply_to_demo_operators

    def enqueue(self, reply: Reply) -> None:
        """Queue a reply for the background senders; the webhook does not wait for Meta."""
        if not self.may_send_to(reply.to):
            metrics.REPLIES.labels(reply.channel.value, "demo_skipped").inc()
            return
        try:
            self._queue.put_nowait(reply)
        except asyncio.QueueFull:
            metrics.REPLIES.labels(reply.channel.value, "dropped").inc()
            log.warning("reply outbox full; reply dropped", extra={"to": reply.to})

    async def _work(self) -> None:
        while True:
            reply = await self._queue.get()
            try:
                await self.send(reply)
            finally:
                self._queue.task_done()

    async def send(self, reply: Reply) -> bool:
        """Send now; False (logged, counted) when the API refuses or cannot be reached."""
        if not self.may_send_to(reply.to):
            metrics.REPLIES.labels(reply.channel.value, "demo_skipped").inc()
            return False
        response: httpx.Response | None
        try:
            if reply.channel is Channel.WHATSAPP:
                response = await self._send_whatsapp(reply)
            elif reply.channel is Channel.SMS:
                response = await self._send_sms(reply)
            else:
                return False
        except httpx.HTTPError as exc:
            metrics.REPLIES.labels(reply.channel.value, "error").inc()
            log.warning("reply not sent", extra={"to": reply.to, "error": str(exc)})
            return False
        if response is None:
            metrics.REPLIES.labels(reply.channel.value, "not_configured").inc()
            return False
        ok = response.is_success
        metrics.REPLIES.labels(reply.channel.value, "sent" if ok else "refused").inc()
        if not ok:
            log.warning(
                "reply refused",
                extra={"to": reply.to, "status": response.status_code, "body": response.text[:300]},
            )
        return ok

    async def _send_whatsapp(self, reply: Reply) -> httpx.Response:
        return await self._whatsapp.send_text(reply.to, reply.text)

    async def _send_sms(self, reply: Reply) -> httpx.Response | None:
        settings = self._settings
        if not settings.sms_api_base or not settings.sms_account_sid:
            return None
        url = (
            f"{settings.sms_api_base.rstrip('/')}/Accounts/{settings.sms_account_sid}/Messages.json"
        )
        return await self._client.post(
            url,
            auth=(settings.sms_account_sid, settings.sms_auth_token.get_secret_value()),
            data={"To": "+" + reply.to, "From": settings.sms_from_number, "Body": reply.text},
        )


def verdict_text(verdict: SubmissionValidated | SubmissionRejected) -> str:
    """The operator's message for a verdict: Diterima, or Ditolak with the reasons in Indonesian."""
    form = verdict.submission.form
    what = f"{CONTEST_NAMES[form.contest]} TPS {form.tps}"
    if isinstance(verdict, SubmissionValidated):
        lines = [f"Diterima: {what}. Terima kasih."]
        if verdict.warnings:
            lines.append("Catatan untuk diperiksa:")
            lines += [f"- {w.pesan}" for w in verdict.warnings]
        return "\n".join(lines)
    errors = [v for v in verdict.violations if v.severity is Severity.ERROR] or list(
        verdict.violations
    )
    lines = [f"Ditolak: {what}."]
    lines += [f"- {v.pesan}" for v in errors]
    lines.append("Perbaiki lalu kirim ulang pesan lengkap untuk TPS ini.")
    return "\n".join(lines)


class _Addressee(BaseModel):
    """The part of a verdict's submission that says whether somebody waits for a reply."""

    model_config = ConfigDict(extra="ignore")

    channel: Channel
    reply_to: str | None = None
    received_at: datetime


class _VerdictHead(BaseModel):
    """A verdict read only as far as its addressee (review decisions have none)."""

    model_config = ConfigDict(extra="ignore")

    type: str
    submission: _Addressee | None = None


REPLIED_CHANNELS = (Channel.WHATSAPP, Channel.SMS)


class VerdictNotifier:
    """Consumes validated and rejected verdicts; tells WhatsApp/SMS senders their forms' fate."""

    def __init__(self, settings: IntakeSettings, replier: Replier) -> None:
        self._settings = settings
        self._replier = replier
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.assigned = asyncio.Event()

    def start(self) -> None:
        """Run the consumer in the background of the intake process."""
        self._task = asyncio.create_task(self._run_forever(), name="verdict-notifier")

    async def stop(self) -> None:
        """Let the loop finish its batch, then stop."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 15)
            except TimeoutError:
                log.warning("verdict notifier did not stop in time")
            except asyncio.CancelledError:
                pass

    async def _run_forever(self) -> None:
        topics = self._settings.topics
        while not self._stop.is_set():
            consumer = AIOKafkaConsumer(
                topics.validated,
                topics.rejected,
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                # Prefixed like the validator and aggregator groups: separate desks never share it.
                group_id=self._settings.topic_prefix + self._settings.notifier_group,
                enable_auto_commit=False,
                # A new group reads from the start; notifier_max_age_s keeps old verdicts unsent.
                auto_offset_reset="earliest",
                **fetch_settings(self._settings.notifier_linger_ms),
                **kafka_client_options(),
            )
            try:
                await consumer.start()
            except (KafkaError, OSError) as exc:
                log.warning("verdict notifier cannot start yet", extra={"error": str(exc)})
                await consumer.stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._settings.producer_retry_s)
                continue
            try:
                await run_batches(
                    consumer,
                    self._handle,
                    self._stop,
                    service="intake-notifier",
                    max_records=500,
                    linger_ms=self._settings.notifier_linger_ms,
                )
            except KafkaError as exc:
                log.warning("verdict notifier restarting", extra={"error": str(exc)})
            finally:
                await consumer.stop()

    async def _handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        self.assigned.set()
        replies = [r for r in (self._reply_for(record) for record in records) if r is not None]
        # Sent before the batch's offsets are committed: a crash re-sends rather than forgets.
        await asyncio.gather(*(self._replier.send(reply) for reply in replies))

    def _reply_for(self, record: ConsumerRecord[bytes, bytes]) -> Reply | None:
        try:
            return reply_for(
                record.value or b"",
                rejected=record.topic == self._settings.topics.rejected,
                max_age=timedelta(seconds=self._settings.notifier_max_age_s),
            )
        except ValidationError:
            log.warning(
                "undecodable verdict skipped",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )
            return None


def reply_for(value: bytes, *, rejected: bool, max_age: timedelta) -> Reply | None:
    """The text for a verdict's sender, or None when nobody waits for one.

    Most verdicts are of forms sent by the app or a sheet, or are review decisions: reading only
    the addressee first keeps the full decode (the form rebuilt) for the few that get a text.
    Raises ValidationError for a record that is not a verdict.
    """
    addressee = _VerdictHead.model_validate_json(value).submission
    if (
        addressee is None
        or addressee.channel not in REPLIED_CHANNELS
        or not addressee.reply_to
        or utcnow() - addressee.received_at > max_age
    ):
        return None
    verdict: SubmissionValidated | SubmissionRejected
    if rejected:
        verdict = SubmissionRejected.model_validate_json(value)
    else:
        decoded = decode(validated_adapter, value)
        if not isinstance(decoded, SubmissionValidated):
            return None  # a review decision: nobody is waiting for a reply
        verdict = decoded
    return Reply(addressee.channel, addressee.reply_to, verdict_text(verdict))
