"""Consumer-loop helper: batches, manual commits after the batch, graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from shared import metrics

log = logging.getLogger(__name__)

Records = Sequence[ConsumerRecord[bytes, bytes]]
Fetched = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
BatchHandler = Callable[[Records], Awaitable[None]]
AssignedHook = Callable[[AIOKafkaConsumer, set[TopicPartition]], Awaitable[None]]


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT only set the stop flag; the loop finishes the batch in hand."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: AIOKafkaConsumer, on_assigned: AssignedHook | None) -> None:
        self._consumer = consumer
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": sorted(str(tp) for tp in revoked)})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})
        if self._on_assigned is not None:
            await self._on_assigned(self._consumer, assigned)


def subscribe(
    consumer: AIOKafkaConsumer, topics: Sequence[str], on_assigned: AssignedHook | None = None
) -> None:
    """Subscribe with a rebalance listener; on_assigned may seek to offsets stored elsewhere."""
    consumer.subscribe(list(topics), listener=_Listener(consumer, on_assigned))


def merge_fetched(
    held: Fetched, more: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
) -> int:
    """Add a later fetch to the batch in hand, each partition in offset order; returns how many.

    A partition handed back to this consumer by a rebalance during the linger is fetched again
    from where its new owner resumes (the committed offset): the records it returns that the
    batch already holds are the same records, kept once. Handlers see one batch as if one fetch
    had returned it.
    """
    added = 0
    for tp, records in more.items():
        part = held.get(tp)
        if part is None:
            held[tp] = list(records)
            added += len(records)
            continue
        last = part[-1].offset
        new = [record for record in records if record.offset > last]
        part.extend(new)
        added += len(new)
    return added


async def fetch_batch(
    consumer: AIOKafkaConsumer, *, max_records: int, timeout_ms: int, linger_ms: int = 0
) -> Fetched:
    """One batch: the first fetch, then more fetches while it is not full, until the oldest
    record in hand is linger_ms old.

    Every batch costs a fixed price downstream (the validator's Kafka transaction per partition,
    the aggregator's PostgreSQL transaction): a short linger makes fewer, larger batches when
    records trickle in, and adds nothing when they come faster than a batch fills. The window
    is counted from the oldest record's timestamp (when its producer wrote it), not from the
    first fetch's answer: the broker may already have held that fetch up to fetch_max_wait_ms
    (fetch_settings), and a record waits one linger per stage, not two.
    """
    first = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
    held: Fetched = {tp: list(part) for tp, part in first.items()}
    if not held or linger_ms <= 0:
        return held
    count = sum(len(part) for part in held.values())
    deadline = time.monotonic() + linger_left_s(held, linger_ms, time.time())
    while count < max_records:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            break
        more = await consumer.getmany(timeout_ms=left_ms, max_records=max_records - count)
        count += merge_fetched(held, more)
    return held


def linger_left_s(held: Fetched, linger_ms: int, now_s: float) -> float:
    """How much longer the batch in hand may wait: until its oldest record is linger_ms old.

    Never more than linger_ms from now (a producer clock ahead of ours), never less than zero.
    """
    oldest_s: float = min(part[0].timestamp for part in held.values() if part) / 1000
    return max(0.0, min(linger_ms / 1000, oldest_s + linger_ms / 1000 - now_s))


# With a linger window the broker may hold a fetch too: it answers once this much is there or
# the linger has passed, instead of once per record that arrives (fewer fetch requests to serve).
FETCH_MIN_BYTES = 64 * 1024


def fetch_settings(linger_ms: int) -> dict[str, int]:
    """AIOKafkaConsumer fetch_min_bytes / fetch_max_wait_ms matching a linger window."""
    if linger_ms <= 0:
        return {}
    return {"fetch_min_bytes": FETCH_MIN_BYTES, "fetch_max_wait_ms": linger_ms}


async def run_batches(
    consumer: AIOKafkaConsumer,
    handle: BatchHandler,
    stop: asyncio.Event,
    *,
    service: str,
    commit: bool = True,
    max_records: int = 2000,
    timeout_ms: int = 200,
    linger_ms: int = 0,
) -> None:
    """Fetch batches until stop is set; handle each, then commit offset+1 per partition.

    With linger_ms, a batch that is not full waits that long for more records (fetch_batch).
    An exception from `handle` propagates: the process exits, the supervisor restarts it and
    the uncommitted batch is delivered again (at-least-once; handlers dedup or store offsets).
    """
    while not stop.is_set():
        batches = await fetch_batch(
            consumer, max_records=max_records, timeout_ms=timeout_ms, linger_ms=linger_ms
        )
        if not batches:
            await _update_lag(consumer, service)
            continue
        records = [record for part in batches.values() for record in part]
        started = time.perf_counter()
        await handle(records)
        if commit:
            await consumer.commit({tp: part[-1].offset + 1 for tp, part in batches.items()})
        metrics.CONSUMER_BATCH_SECONDS.labels(service).observe(time.perf_counter() - started)
        metrics.CONSUMER_RECORDS.labels(service).inc(len(records))
        await _update_lag(consumer, service)
    log.info("consumer loop stopped after finishing its batch")


async def _update_lag(consumer: AIOKafkaConsumer, service: str) -> None:
    # highwater is known from the last fetch response; position() is local once assigned.
    lag = 0
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is not None:
            lag += max(0, high - await consumer.position(tp))
    metrics.CONSUMER_LAG.labels(service).set(lag)
