"""Consumer-loop helper: batches, manual commits after the batch, graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from shared import metrics

log = logging.getLogger(__name__)

Records = Sequence[ConsumerRecord[bytes, bytes]]
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


async def run_batches(
    consumer: AIOKafkaConsumer,
    handle: BatchHandler,
    stop: asyncio.Event,
    *,
    service: str,
    commit: bool = True,
    max_records: int = 2000,
    timeout_ms: int = 200,
) -> None:
    """Fetch batches until stop is set; handle each, then commit offset+1 per partition.

    An exception from `handle` propagates: the process exits, the supervisor restarts it and
    the uncommitted batch is delivered again (at-least-once; handlers dedup or store offsets).
    """
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
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
