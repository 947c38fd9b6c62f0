"""Aggregator process: consumes validated and rejected submissions, keeps totals in PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import time
from collections.abc import Sequence

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from services.aggregator import metrics
from services.aggregator.aggregation import (
    Decision,
    FormIn,
    Incoming,
    LostCommits,
    Position,
    RejectedIn,
    ReviewIn,
    UndecodableEvent,
    submission_from_event,
)
from services.aggregator.incidents import run_incident_recorder
from services.aggregator.photos import run_photo_recorder
from services.aggregator.repository import (
    apply_batch,
    disputed_count,
    hold_aggregator_lock,
    stored_offsets,
)
from services.aggregator.settings import AggregatorSettings
from shared.codec import encode
from shared.consumer import (
    Records,
    fetch_settings,
    install_stop_signals,
    run_batches,
    subscribe,
)
from shared.db import connect, create_pool
from shared.events import (
    DeadLetter,
    ReviewDecided,
    SubmissionRejectedRawForm,
    SubmissionValidatedRawForm,
    utcnow,
    validated_raw_form_adapter,
)
from shared.kafka import kafka_client_options, make_producer
from shared.logs import configure_logging
from shared.ops import serve_ops
from shared.topics import Topics

log = logging.getLogger(__name__)
SERVICE = "aggregator"
CONFLICTS_REFRESH_S = 2.0
# Decisions that may open or settle a dispute.
DISPUTE_DECISIONS = (Decision.CONFLICT, Decision.REVISION, Decision.REVIEW)
NextOffsets = dict[tuple[str, int], int]  # (topic, partition) -> offset after the batch
# Decoding hands the event loop back this often, so the batch transaction in flight moves on
# (PostgreSQL works on its statements on the other CPU while this one decodes).
DECODE_YIELD_EVERY = 25


def tune_gc() -> None:
    """Collect garbage less often: each batch allocates some 100 short-lived containers per form.

    With the default threshold (700) the collector ran every few forms and rescanned the
    batch's surviving objects, some 15 % of the process's CPU; objects made at startup are
    frozen out of the scans.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def event_from_json(value: bytes, position: Position, *, rejected: bool) -> Incoming:
    """Decode a validated-topic or rejected-topic event (raises UndecodableEvent).

    Through the shared.events models of those topics, with the form kept as its JSON object
    (the validator checked it as a CHasil): rebuilding the form model per record would cost
    more than the rest of the decode on this hot path. orjson parses, pydantic validates the
    parsed object: faster here than pydantic's own JSON parsing (benchmarks/RESULTS.md).
    """
    try:
        data = orjson.loads(value)
        event: SubmissionValidatedRawForm | SubmissionRejectedRawForm | ReviewDecided = (
            SubmissionRejectedRawForm.model_validate(data)
            if rejected
            else validated_raw_form_adapter.validate_python(data)
        )
    except (orjson.JSONDecodeError, ValidationError) as error:
        raise UndecodableEvent(f"{type(error).__name__} on {position.topic}: {error}") from error
    if isinstance(event, ReviewDecided):
        return ReviewIn(event, position)
    submission = submission_from_event(event.submission)
    if isinstance(event, SubmissionRejectedRawForm):
        return RejectedIn(submission, event.violations, position)
    return FormIn(submission, event.warnings, position)


def to_incoming(record: ConsumerRecord[bytes, bytes], topics: Topics) -> Incoming:
    """Decode one record of the validated or rejected topic (raises UndecodableEvent)."""
    position = Position(record.topic, record.partition, record.offset)
    return event_from_json(record.value or b"", position, rejected=record.topic == topics.rejected)


async def decode_batch(
    records: Sequence[ConsumerRecord[bytes, bytes]],
    topics: Topics,
    producer: AIOKafkaProducer,
) -> tuple[list[Incoming], NextOffsets]:
    """Events of a batch in order, and the next offset per partition; bad records go to the DLQ."""
    events: list[Incoming] = []
    next_offsets: NextOffsets = {}
    for n, record in enumerate(records, start=1):
        if n % DECODE_YIELD_EVERY == 0:
            await asyncio.sleep(0)
        tp = (record.topic, record.partition)
        next_offsets[tp] = max(next_offsets.get(tp, 0), record.offset + 1)
        try:
            events.append(to_incoming(record, topics))
        except UndecodableEvent as error:
            metrics.UNDECODABLE.inc()
            log.error(
                "undecodable record sent to the DLQ",
                extra={"topic": tp[0], "partition": tp[1], "offset": record.offset},
            )
            letter = DeadLetter(
                source_topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=str(error)[:2000],
                key=record.key.decode(errors="replace") if record.key else None,
                original_b64=base64.b64encode(record.value or b"").decode(),
                failed_at=utcnow(),
            )
            # Before the batch commits: a crash now sends the letter twice, never zero times.
            await producer.send_and_wait(topics.dlq, encode(letter), key=record.key)
    return events, next_offsets


def split_lanes(
    events: Sequence[Incoming], next_offsets: NextOffsets, lanes: int
) -> list[tuple[list[Incoming], NextOffsets]]:
    """A batch cut into `lanes` parts by partition number (partition % lanes), order kept.

    A TPS's events all come through one partition number (the validated and the rejected topic
    are keyed alike), so the parts touch disjoint TPS rows and offset rows and can be applied
    by concurrent transactions. A part may be empty; its offsets are then empty too.
    """
    parts: list[tuple[list[Incoming], NextOffsets]] = [([], {}) for _ in range(lanes)]
    for (topic, partition), offset in next_offsets.items():
        parts[partition % lanes][1][(topic, partition)] = offset
    for event in events:
        position = event.position
        if position is None:
            raise ValueError("an event without a Kafka position cannot be given a lane")
        parts[position.partition % lanes][0].append(event)
    return parts


class BatchApplier:
    """Applies decoded batches in lanes, each lane's batches one after another.

    Lane n takes the partitions whose number % lanes == n, on its own connection: while one
    lane's PostgreSQL backend parses a COPY, this process decodes the next batch or formats
    another lane's rows, so the two CPUs work at once. The parts share only area rows (always
    the kabupaten and provinsi ones, on a small roster most desa ones too), which every
    transaction writes last, in primary-key order: a lane waits for the other only from that
    statement to the other's commit, and cannot deadlock. Each part stores its own partitions'
    offsets, so a crash between two lanes' commits loses and repeats nothing.

    `known` holds, per partition, the next offset this process last saw stored (read at the
    seek on assignment, then returned by each commit). Every batch checks the stored offsets
    against it (repository.apply_batch), so a batch whose asynchronous commit PostgreSQL lost
    in a crash is never built upon: the process stops and reads it again from Kafka.
    """

    def __init__(self, pool: asyncpg.Pool, group: str, stop: asyncio.Event, lanes: int = 1) -> None:
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        self.pool = pool
        self.group = group
        self.stop = stop
        self.in_flight: list[asyncio.Task[None] | None] = [None] * lanes
        self.conflicts_refreshed = 0.0
        self.known: NextOffsets = {}

    async def submit(self, events: list[Incoming], next_offsets: NextOffsets) -> None:
        """Per lane: wait for its previous part to commit (raising its error), then start this."""
        lanes = len(self.in_flight)
        parts = [(events, next_offsets)] if lanes == 1 else split_lanes(events, next_offsets, lanes)
        for lane, (part, offsets) in enumerate(parts):
            if not offsets:
                continue
            await self._drain_lane(lane)
            task = asyncio.create_task(self._apply(part, offsets))
            # A failed batch stops the loop at once; drain() then raises its error.
            task.add_done_callback(self._stop_on_failure)
            self.in_flight[lane] = task

    def _stop_on_failure(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.stop.set()

    async def _drain_lane(self, lane: int) -> None:
        task, self.in_flight[lane] = self.in_flight[lane], None
        if task is not None:
            await task

    async def drain(self) -> None:
        """Wait for every lane's part in flight to end; then the first exception propagates."""
        tasks = [task for task in self.in_flight if task is not None]
        self.in_flight = [None] * len(self.in_flight)
        # Every lane ends (commits or fails) before the caller may close the pool.
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def _apply(self, events: list[Incoming], next_offsets: NextOffsets) -> None:
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            applied = await apply_batch(
                conn,
                group=self.group,
                events=events,
                next_offsets=next_offsets,
                known={tp: self.known[tp] for tp in next_offsets if tp in self.known},
            )
            self.known.update(applied.offsets)
            # Counted again after every batch that may open or settle a dispute (the gauge
            # must not stay stale when the desk goes quiet), else at most every few seconds.
            decisions = applied.outcome.decisions
            if (
                any(decisions.get(d) for d in DISPUTE_DECISIONS)
                or time.monotonic() - self.conflicts_refreshed > CONFLICTS_REFRESH_S
            ):
                self.conflicts_refreshed = time.monotonic()
                metrics.CONFLICTS_OPEN.set(await disputed_count(conn))
        if not applied.skipped:  # a redelivered batch was committed before: not fresh now
            metrics.observe_freshness(
                e.submission.version.published_at for e in events if not isinstance(e, ReviewIn)
            )
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(events))
        metrics.SKIPPED.inc(applied.skipped)
        for decision, count in applied.outcome.decisions.items():
            metrics.FORMS.labels(decision).inc(count)


def start_recorders(
    settings: AggregatorSettings, pool: asyncpg.Pool, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """The photo and incident recorders, as tasks; a failing one stops the process (the
    supervisor restarts it), never silently."""
    bootstrap, topics, group = settings.kafka_bootstrap_servers, settings.topics, settings.group_id
    recorders = [
        asyncio.create_task(
            run_photo_recorder(bootstrap, topics.photos, group + "-photos", pool, stop)
        ),
        asyncio.create_task(
            run_incident_recorder(bootstrap, topics.incidents, group + "-incidents", pool, stop)
        ),
    ]
    for recorder in recorders:
        recorder.add_done_callback(
            lambda task: stop.set() if not task.cancelled() and task.exception() else None
        )
    return recorders


def watch_session(lock_conn: asyncpg.Connection, stop: asyncio.Event) -> asyncio.Event:
    """An event set, with stop, when the lock session ends while the process is not stopping.

    That session ends only when PostgreSQL goes away (a crash, a restart): then its last
    asynchronous commits may be lost (docs/decisions/0006), and so is the lock. The process
    stops and fails, and its restart seeks to the offsets PostgreSQL kept; without this a crash
    between batches would go unnoticed (the pool opens new connections by itself).
    """
    lost = asyncio.Event()

    def on_session_end(_conn: object) -> None:
        if not stop.is_set():
            log.error("the lock session to PostgreSQL ended; stopping to re-read from Kafka")
            lost.set()
            stop.set()

    lock_conn.add_termination_listener(on_session_end)
    return lost


async def main(settings: AggregatorSettings | None = None) -> None:
    """Run until SIGTERM: consume, apply each batch in one transaction with its offsets."""
    settings = settings or AggregatorSettings()
    configure_logging(SERVICE, settings.log_level)
    stop = asyncio.Event()
    install_stop_signals(stop)
    topics = settings.topics
    lock_conn = await connect(settings.database_url)
    # Shared with other aggregator instances; `deskpemilu rebuild` takes it exclusively.
    await hold_aggregator_lock(lock_conn)
    postgres_lost = watch_session(lock_conn, stop)
    # One connection per lane, and one for health checks and the seek on assignment.
    pool = await create_pool(
        settings.database_url,
        min_size=1,
        max_size=settings.lanes + 2,
        server_settings={"synchronous_commit": settings.synchronous_commit},
    )
    # The photo and incident recorders commit Kafka's offsets after their PostgreSQL commit: a
    # write lost after that commit would be lost for good, so theirs wait for the disk.
    recorder_pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.group_id,
        group_instance_id=settings.instance_id,
        session_timeout_ms=settings.session_timeout_ms,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        **kafka_client_options(),
        **fetch_settings(settings.linger_ms),
    )
    producer = make_producer(settings.kafka_bootstrap_servers)
    applier = BatchApplier(pool, settings.group_id, stop, lanes=settings.lanes)

    async def health() -> dict[str, bool]:
        async with pool.acquire() as conn:
            db_ok = await conn.fetchval("SELECT true") is True
        return {"postgres": db_ok, "running": not stop.is_set()}

    # aiokafka already fetches for new partitions while this listener runs, from Kafka's own
    # position: the log start, since this group never commits there, so at or below the
    # stored offset. Such a batch is harmless: apply_batch skips what lies below the stored
    # offsets and stores the rest in order; the seek only saves refetching what is done.
    async def seek_to_stored(consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        async with pool.acquire() as conn:
            stored = await stored_offsets(
                conn, settings.group_id, [topics.validated, topics.rejected]
            )
        applier.known = {
            (tp.topic, tp.partition): stored[(tp.topic, tp.partition)]
            for tp in assigned
            if (tp.topic, tp.partition) in stored
        }
        for tp in sorted(assigned):
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        log.info("seeked to stored offsets", extra={"assigned": sorted(map(str, assigned))})

    async def handle(records: Records) -> None:
        # Decoding this batch overlaps the previous batch's transaction; the stored offsets
        # make a batch applied after a rebalance harmless (its records are skipped).
        events, next_offsets = await decode_batch(records, topics, producer)
        await applier.submit(events, next_offsets)

    ops = await serve_ops(SERVICE, settings.ops_host, settings.ops_port, health)
    await producer.start()
    await consumer.start()
    tune_gc()
    try:
        subscribe(consumer, [topics.validated, topics.rejected], on_assigned=seek_to_stored)
        recorders = start_recorders(settings, recorder_pool, stop)
        # Offsets live in PostgreSQL with the totals; Kafka commits would add nothing to them.
        await run_batches(
            consumer,
            handle,
            stop,
            service=SERVICE,
            commit=False,
            max_records=settings.max_batch,
            linger_ms=settings.linger_ms,
        )
        await applier.drain()
        for recorder in recorders:
            await recorder
        if postgres_lost.is_set():
            raise LostCommits("PostgreSQL went away: its last asynchronous commits may be lost")
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()
        await recorder_pool.close()
        await lock_conn.close()
        await ops.stop()
