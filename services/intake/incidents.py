"""Taking one incident report from any channel: area, scope, idempotency, publish, read-back.

The order is the forms' (services/intake/submissions.py): the area must be a desa or TPS of a
loaded roster and inside the sender's scope (shared.policy), then the IncidentReported event is
published to incidents.v1 and only Kafka's acknowledgement makes the answer a 202. The incident
id is uuid5(operator, key) (WhatsApp: the message id, SMS: the MessageSid, JSON: the
Idempotency-Key), so a retry through any replica is the same incident; the recorder upserts.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache

from services.intake import metrics
from services.intake.directory import Directory
from services.intake.publisher import KafkaUnavailable, Publisher
from services.intake.schemas import IntakeError
from services.intake.submissions import kafka_unavailable, key_reused, refusal_error
from shared.codec import encode
from shared.events import Channel, IncidentReported, OperatorRef, incident_id_for, utcnow
from shared.incidents import IncidentCategory, IncidentSeverity, default_severity
from shared.policy import submit_refusal


@dataclass(frozen=True, slots=True)
class IncidentAccepted:
    """An incident Kafka acknowledged: what the 202 and the read-back are built from."""

    incident_id: uuid.UUID
    reported_at: datetime
    area: str
    category: IncidentCategory
    severity: IncidentSeverity


def unknown_area(area: str) -> IntakeError:
    """422 for a desa or TPS code that is in no loaded roster."""
    return IntakeError(
        422,
        "INCIDENT_UNKNOWN_AREA",
        f"Kode {area} tidak ada dalam daftar TPS/desa. Periksa kode TPS (13 angka) atau desa.",
        f"Code {area} is not a TPS or desa of the loaded rosters. Check the code.",
    )


@dataclass(slots=True)
class _Entry:
    body_hash: str
    outcome: asyncio.Future[IncidentAccepted]


class IncidentIntake:
    """The channel-independent core for incidents: every route hands its reports to report()."""

    def __init__(
        self,
        publisher: Publisher,
        directory: Directory,
        *,
        topic: str,
        retry_after_s: int,
        cache_size: int = 20_000,
    ) -> None:
        self.publisher = publisher
        self.directory = directory
        self.topic = topic
        self.retry_after_s = retry_after_s
        self._by_key: LRUCache[tuple[str, str], _Entry] = LRUCache(maxsize=cache_size)

    def check(self, operator: OperatorRef, area: str) -> IntakeError | None:
        """Why this report may not be taken (unknown area, outside scope), or None."""
        if not self.directory.knows_area(area):
            return unknown_area(area)
        refused = submit_refusal(operator, area)
        return None if refused is None else refusal_error(refused)

    async def report(
        self,
        operator: OperatorRef,
        *,
        area: str,
        category: IncidentCategory,
        text: str,
        channel: Channel,
        idempotency_key: str | None,
        reply_to: str | None = None,
    ) -> tuple[IncidentAccepted, bool]:
        """Publish once per (operator, key); True in the pair when answered from memory."""
        refused = self.check(operator, area)
        if refused is not None:
            metrics.INCIDENTS_REFUSED.labels(refused.code).inc()
            raise refused
        key = idempotency_key or str(uuid.uuid4())
        severity = default_severity(category)

        async def publish() -> IncidentAccepted:
            now = utcnow()
            event = IncidentReported(
                incident_id=incident_id_for(operator.id, key),
                reported_at=now,
                channel=channel,
                operator=operator,
                idempotency_key=key,
                area=area,
                category=category,
                severity=severity,
                text=text,
                reply_to=reply_to,
                published_at=now,
            )
            try:
                await self.publisher.publish(
                    self.topic, str(event.incident_id).encode(), encode(event)
                )
            except KafkaUnavailable as exc:
                raise kafka_unavailable(self.retry_after_s) from exc
            metrics.INCIDENTS.labels(channel.value, severity.value).inc()
            return IncidentAccepted(event.incident_id, now, area, category, severity)

        body = hashlib.sha256(f"{area}\n{category}\n{text}".encode()).hexdigest()
        return await self._once(operator.id, key, body, publish)

    async def _once(
        self,
        operator_id: str,
        key: str,
        body_hash: str,
        publish: Callable[[], Awaitable[IncidentAccepted]],
    ) -> tuple[IncidentAccepted, bool]:
        cache_key = (operator_id, key)
        entry = self._by_key.get(cache_key)
        if entry is not None:
            if entry.body_hash != body_hash:
                raise key_reused(key)
            return await asyncio.shield(entry.outcome), True
        outcome: asyncio.Future[IncidentAccepted] = asyncio.get_running_loop().create_future()
        self._by_key[cache_key] = _Entry(body_hash, outcome)
        try:
            accepted = await publish()
        except BaseException as exc:
            if (current := self._by_key.get(cache_key)) is not None and current.outcome is outcome:
                del self._by_key[cache_key]
            outcome.set_exception(exc)
            outcome.exception()
            raise
        outcome.set_result(accepted)
        return accepted, False
