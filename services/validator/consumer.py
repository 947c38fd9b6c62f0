"""Validator process: judges each received record once, publishing verdicts in transactions."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.validator import metrics
from services.validator.judge import Decoded, Outcome, Source, Stamp, decode, election_of, judge
from services.validator.roster_cache import RosterCache
from services.validator.settings import ValidatorSettings
from services.validator.slots import slot_assignor
from services.validator.transactions import Output, PartitionTransactions, Publish
from shared.consumer import Records, fetch_settings, install_stop_signals, run_batches
from shared.kafka import kafka_client_options
from shared.logs import configure_logging
from shared.ops import serve_ops
from shared.topics import Topics

log = logging.getLogger(__name__)
SERVICE = "validator"
CLOSE_TIMEOUT_S = 10.0
GC_INTERVAL_S = 2.0
# Judging runs on the event loop that also sends the previous batch's verdicts: it yields every
# this many records so produce requests and their answers are not held up for a whole batch.
YIELD_EVERY = 250
# Per partition and fetch (aiokafka's default is 1 MiB, ~900 forms): larger fetches make larger
# batches per partition, so fewer transactions per form (validator_bench: 12,900 -> 20,900
# forms/s with batches of 20,000 instead of 5,000, each transaction's round trips amortised).
FETCH_PARTITION_BYTES = 4 * 1024 * 1024


class GarbageCollector:
    """Runs the cyclic garbage collector between batches, or on a timer while none come."""

    # A batch keeps thousands of decoded forms alive at once, and automatic collections rescan
    # them over and over though they hold no reference cycles (refcounting frees them): that
    # cost more CPU than decoding them (decode step measured 80 us/form, 14 without). The few
    # cycles asyncio and aiokafka make are collected every GC_INTERVAL_S instead, between two
    # batches when the last batch's forms are gone: a full collection in the middle of a batch
    # scanned ~160,000 live objects and took 120-220 ms (validator_bench, 100,000 forms).

    def __init__(self) -> None:
        self._last = time.monotonic()
        self.in_batch = False  # never collect on the timer while a batch's forms are alive

    def between_batches(self) -> None:
        """Collect if GC_INTERVAL_S has passed since the last collection."""
        if time.monotonic() - self._last >= GC_INTERVAL_S:
            self._collect()

    def _collect(self) -> None:
        gc.collect()
        self._last = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Turn automatic collection off until stop is set; collect on a timer while idle."""
        gc.collect()
        gc.freeze()  # what start-up built lives for good: never scan it again
        gc.disable()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), GC_INTERVAL_S)
                # Batches collect between themselves; this only covers a quiet stream (a
                # collection in the middle of a slow batch took seconds on a loaded machine).
                if not self.in_batch and time.monotonic() - self._last >= 2 * GC_INTERVAL_S:
                    self._collect()
        finally:
            gc.enable()


def output_topics(topics: Topics) -> dict[Outcome, str]:
    """The topic each outcome is published on."""
    return {
        Outcome.VALIDATED: topics.validated,
        Outcome.REVIEW: topics.validated,
        Outcome.REJECTED: topics.rejected,
        Outcome.DEAD_LETTER: topics.dlq,
        Outcome.REVIEW_REJECTED: topics.dlq,
    }


# Per partition, each fresh record with its decoded event.
_Decoded = dict[TopicPartition, list[tuple[ConsumerRecord[bytes, bytes], Decoded]]]


class BatchJudge:
    """Judges a batch per partition and publishes each partition's verdicts with its offset."""

    def __init__(
        self,
        cache: RosterCache,
        txns: PartitionTransactions,
        topic_of: Mapping[Outcome, str],
        collector: GarbageCollector | None = None,
    ) -> None:
        self._cache = cache
        self._txns = txns
        self._topic_of = topic_of
        self._collector = collector

    async def handle(self, records: Records) -> None:
        """Judge a batch while the previous one commits, then start this one's transactions."""
        collector = self._collector
        if collector is None:
            await self._handle(records)
            return
        collector.between_batches()  # the previous batch's forms are freed by now
        collector.in_batch = True
        try:
            await self._handle(records)
        finally:
            collector.in_batch = False

    async def _handle(self, records: Records) -> None:
        async with self._txns.lock:
            self._txns.raise_failure()
            decoded, elections = await self._decode(records)
            if not decoded:
                return
            await self._cache.refresh_for_unknown(elections)
            publishes, outcomes, codes = await self._judge(decoded)
            # One batch in flight at most: this batch's transactions start once the previous
            # batch's have committed (they did their round trips while this one was judged).
            await self._txns.drain()
            self._txns.submit(publishes)
        for outcome, count in outcomes.items():
            metrics.FORMS.labels(outcome.value).inc(count)
        for (code, severity), count in codes.items():
            metrics.VIOLATIONS.labels(code, severity).inc(count)

    async def _decode(self, records: Records) -> tuple[_Decoded, set[str]]:
        by_tp: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            by_tp.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        decoded: _Decoded = {}
        elections: set[str] = set()
        for tp, part in by_tp.items():
            fresh = self._txns.fresh(tp, part)
            if not fresh:
                continue
            events: list[tuple[ConsumerRecord[bytes, bytes], Decoded]] = []
            for start in range(0, len(fresh), YIELD_EVERY):
                chunk = [
                    (record, decode(record.value)) for record in fresh[start : start + YIELD_EVERY]
                ]
                elections.update(e for _, event in chunk if (e := election_of(event)))
                events += chunk
                await asyncio.sleep(0)  # let the previous batch's transactions move on
            decoded[tp] = events
        return decoded, elections

    async def _judge(
        self, decoded: _Decoded
    ) -> tuple[list[Publish], Counter[Outcome], Counter[tuple[str, str]]]:
        rosters = self._cache.rosters  # one roster snapshot for the whole batch
        stamp = Stamp.now()
        outcomes: Counter[Outcome] = Counter()
        codes: Counter[tuple[str, str]] = Counter()
        publishes: list[Publish] = []
        topic_of = self._topic_of
        for tp, events in decoded.items():
            outputs: list[Output] = []
            topic, partition = tp.topic, tp.partition
            for i, (record, event) in enumerate(events, 1):
                if i % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                source = Source(topic, partition, record.offset, record.key)
                outcome, key, value, violations = judge(event, record.value, source, rosters, stamp)
                outputs.append((topic_of[outcome], key, value))
                outcomes[outcome] += 1
                for violation in violations:
                    codes[violation.code, violation.severity.value] += 1
            publishes.append((tp, outputs, events[-1][0].offset + 1))
            await asyncio.sleep(0)
        return publishes, outcomes, codes


def _client_id(settings: ValidatorSettings) -> str:
    instance = settings.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    return f"validator-{instance}"


async def main(settings: ValidatorSettings | None = None) -> None:
    """Run until SIGTERM: consume, judge, publish and commit offsets in one transaction."""
    settings = settings or ValidatorSettings()
    configure_logging(SERVICE, settings.log_level)
    stop = asyncio.Event()
    install_stop_signals(stop)
    topics = settings.topics
    cache = RosterCache(settings.database_url, poll_seconds=settings.roster_poll_seconds)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=_client_id(settings),
        group_id=settings.group_id,
        enable_auto_commit=False,  # offsets are committed inside each output transaction
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        session_timeout_ms=settings.session_timeout_ms,
        max_partition_fetch_bytes=FETCH_PARTITION_BYTES,
        # Whole transaction slots per member (services/validator/slots.py).
        partition_assignment_strategy=(slot_assignor(settings.transaction_slots),),
        **kafka_client_options(),
        **fetch_settings(settings.linger_ms),
    )
    txns = PartitionTransactions(
        consumer,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.group_id,
        transaction_timeout_ms=settings.transaction_timeout_ms,
        on_failure=lambda exc: stop.set(),
        slots=settings.transaction_slots,
    )
    running = asyncio.Event()

    async def health() -> dict[str, bool]:
        return {"roster": cache.loaded, "consumer": running.is_set() and not stop.is_set()}

    ops = await serve_ops(SERVICE, settings.ops_host, settings.ops_port, health)
    poller: asyncio.Task[None] | None = None
    collector: asyncio.Task[None] | None = None
    garbage = GarbageCollector()
    try:
        await cache.load()
        collector = asyncio.create_task(garbage.run(stop))
        await consumer.start()
        consumer.subscribe([topics.received], listener=txns)
        poller = asyncio.create_task(cache.run(stop))
        running.set()
        judge_batch = BatchJudge(cache, txns, output_topics(topics), garbage)
        await run_batches(
            consumer,
            judge_batch.handle,
            stop,
            service=SERVICE,
            commit=False,
            max_records=settings.max_batch,
            linger_ms=settings.linger_ms,
        )
        await txns.drain()  # the last batch commits before the process leaves the group
    finally:
        stop.set()
        if poller is not None:
            await poller
        if collector is not None:
            await collector
        # Leaving the group first lets another instance take the partitions at once.
        await asyncio.wait_for(consumer.stop(), CLOSE_TIMEOUT_S)
        await asyncio.wait_for(txns.close(), CLOSE_TIMEOUT_S)
        await cache.close()
        await ops.stop()
