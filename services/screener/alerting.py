"""The desk alert loop inside the screener: read the facts, evaluate the rules, store, send.

It runs beside the screening loop on its own PostgreSQL connection, wakes on NOTIFY
deskpemilu_desk (an incident recorded, within the recorder's batch) and every
SCREENER_ALERT_INTERVAL_S, stores each new alert once (services/screener/alert_repository.py)
and hands it to the outbox, which sends it in the background. Neither the intake nor the
validator nor the aggregator waits on any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.screener import metrics
from services.screener.alert_repository import (
    incident_facts,
    kecamatan_facts,
    mark_attempt,
    quarantine_facts,
    store_alerts,
    stored_offsets,
    unsent_alerts,
)
from services.screener.alerts import (
    Alert,
    AlertRule,
    Facts,
    IncidentFact,
    PipelineFact,
    RuleKind,
    evaluate,
    kinds_in,
    whatsapp_text,
)
from services.screener.outbox import AlertOutbox
from services.screener.repository import Conn
from services.screener.settings import ScreenerSettings
from shared.db import connect, create_pool
from shared.events import utcnow
from shared.notify import DeskChanged
from shared.whatsapp import WhatsAppClient

log = logging.getLogger(__name__)


class KafkaEnds:
    """End offsets of the validator's output topics (one metadata-only consumer, no group)."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self._consumer: AIOKafkaConsumer | None = None

    async def ends(self) -> dict[tuple[str, int], int] | None:
        """(topic, partition) -> end offset; None when Kafka cannot be asked right now."""
        try:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap, enable_auto_commit=False
                )
                await asyncio.wait_for(consumer.start(), 5)
                self._consumer = consumer
            await asyncio.wait_for(self._consumer.topics(), 5)
            partitions = [
                TopicPartition(topic, p)
                for topic in self._topics
                for p in sorted(self._consumer.partitions_for_topic(topic) or ())
            ]
            if not partitions:
                return {}
            found = await asyncio.wait_for(self._consumer.end_offsets(partitions), 5)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("kafka end offsets unavailable", extra={"error": str(exc)})
            await self.close()
            return None
        return {(tp.topic, tp.partition): int(end) for tp, end in found.items()}

    async def close(self) -> None:
        """Stop the consumer, if one was started."""
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None


async def pipeline_fact(
    conn: Conn, ends: KafkaEnds, group: str, now: datetime
) -> PipelineFact | None:
    """How far the aggregator's stored offsets are behind the topics' ends."""
    end_offsets = await ends.ends()
    if end_offsets is None:
        return None
    stored, last_commit = await stored_offsets(conn, group)
    lag = sum(max(end - stored.get(key, 0), 0) for key, end in end_offsets.items())
    age = None if last_commit is None else (now - last_commit).total_seconds()
    return PipelineFact(lag_records=lag, last_commit_age_s=age)


async def gather_facts(
    conn: Conn,
    rules: tuple[AlertRule, ...],
    settings: ScreenerSettings,
    ends: KafkaEnds,
    now: datetime,
) -> Facts:
    """The facts the enabled rules need, read now."""
    kinds = kinds_in(rules)
    incidents: list[IncidentFact] = []
    for rule in rules:
        if rule.enabled and rule.kind is RuleKind.CRITICAL_INCIDENT:
            incidents += await incident_facts(conn, rule.code, rule.min_severity)
    return Facts(
        now=now,
        incidents=incidents,
        quarantines=await quarantine_facts(conn) if RuleKind.QUARANTINE_LEADER in kinds else (),
        kecamatan=await kecamatan_facts(conn) if RuleKind.KECAMATAN_STALLED in kinds else (),
        pipeline=(
            await pipeline_fact(conn, ends, settings.topic_prefix + settings.aggregator_group, now)
            if RuleKind.PIPELINE_BEHIND in kinds
            else None
        ),
        hours=settings.counting_hours(),
    )


async def alert_pass(
    conn: Conn,
    rules: tuple[AlertRule, ...],
    settings: ScreenerSettings,
    ends: KafkaEnds,
    outbox: AlertOutbox,
) -> list[tuple[int, Alert]]:
    """One evaluation: facts, rules, the new alerts stored and queued for the coordinators."""
    started = time.monotonic()
    facts = await gather_facts(conn, rules, settings, ends, utcnow())
    new = await store_alerts(conn, evaluate(rules, facts))
    for alert_id, alert in new:
        metrics.ALERTS_RAISED.labels(alert.rule).inc()
        outbox.enqueue(alert_id, whatsapp_text(alert))
        log.info("alert raised", extra={"alert_id": alert_id, "rule": alert.rule})
    metrics.ALERT_PASS_SECONDS.observe(time.monotonic() - started)
    return new


def make_outbox(settings: ScreenerSettings, pool: asyncpg.Pool) -> AlertOutbox:
    """The coordinators' outbox; it records each send round on the alert's row."""
    coordinators = settings.coordinators()
    client = (
        WhatsAppClient(
            api_base=settings.whatsapp_api_base,
            phone_number_id=settings.whatsapp_phone_number_id,
            access_token=settings.whatsapp_access_token,
            timeout_s=settings.whatsapp_timeout_s,
        )
        if coordinators
        else None
    )

    async def mark(alert_id: int, sent: bool) -> None:
        async with pool.acquire() as conn:
            await mark_attempt(conn, alert_id, sent=sent)

    return AlertOutbox(
        client,
        coordinators,
        mark,
        max_attempts=settings.alert_max_attempts,
        backoff_base_s=settings.alert_backoff_s,
        backoff_cap_s=settings.alert_backoff_cap_s,
    )


async def run_alerts(settings: ScreenerSettings, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """Evaluate the alert rules until stop is set; PostgreSQL outages are waited out."""
    rules = settings.rules()
    topics = settings.topics
    ends = KafkaEnds(settings.kafka_bootstrap_servers, [topics.validated, topics.rejected])
    outbox = make_outbox(settings, pool)
    outbox.start()
    wake = asyncio.Event()
    conn: asyncpg.Connection | None = None
    log.info(
        "desk alerts started",
        extra={"rules": [r.code for r in rules if r.enabled], "coordinators": outbox.enabled},
    )
    try:
        while not stop.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await connect(settings.database_url)
                    await conn.add_listener(DeskChanged.CHANNEL, lambda *_: wake.set())
                    for alert_id, alert in await unsent_alerts(conn, settings.alert_max_attempts):
                        outbox.enqueue(alert_id, whatsapp_text(alert))
                wake.clear()
                await alert_pass(conn, rules, settings, ends, outbox)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("alert pass failed; retrying", extra={"error": str(exc)})
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
            await _wait(stop, wake, settings.alert_interval_s)
    finally:
        await outbox.stop()
        await ends.close()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


async def _wait(stop: asyncio.Event, wake: asyncio.Event, interval_s: float) -> None:
    """Until a NOTIFY (debounced 0.2 s), a stop, or the interval."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=interval_s, return_when="FIRST_COMPLETED")
    finally:
        for w in waiters:
            w.cancel()
    if not stop.is_set():
        await asyncio.sleep(0.2)


class DeskAlerts:
    """The alert loop as a background task of the screener process (SCREENER_ALERTS=0: off)."""

    def __init__(self, pool: asyncpg.Pool | None, task: asyncio.Task[None] | None) -> None:
        self._pool = pool
        self._task = task

    @classmethod
    async def start(cls, settings: ScreenerSettings, stop: asyncio.Event) -> DeskAlerts:
        """Start the loop; a loop that fails stops the process (the supervisor restarts it)."""
        if not settings.alerts_enabled:
            return cls(None, None)
        pool = await create_pool(settings.database_url, min_size=1, max_size=2)
        task = asyncio.create_task(run_alerts(settings, pool, stop), name="desk-alerts")
        task.add_done_callback(
            lambda t: stop.set() if not t.cancelled() and t.exception() else None
        )
        return cls(pool, task)

    async def close(self) -> None:
        """Wait (bounded) for the loop to end after stop was set; close its pool."""
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except Exception:
                log.exception("desk alert loop ended with an error")
        if self._pool is not None:
            await self._pool.close()
