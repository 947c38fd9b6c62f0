"""Exactly-once output: one transactional producer per slot of input partitions, its offsets in
the commit.

aiokafka sends TxnOffsetCommit v0, which carries no consumer-group generation (KIP-447), so a
producer per instance could not be fenced when its partitions move. A transactional id per slot
of input partitions (the KIP-98 model, a slot being the partitions whose number % slots is the
same: services/validator/slots.py) can: whoever is assigned the slot (the group's assignor hands
out whole slots) starts a producer under its id, which aborts the previous owner's open
transaction and fences that owner for good, and only then reads the committed offsets to resume
from. With as many slots as partitions this is a transaction per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from services.validator import metrics
from services.validator.slots import DEFAULT_SLOTS, Slot, slot_of, slot_partitions
from shared.consumer import Records
from shared.kafka import kafka_client_options

log = logging.getLogger(__name__)

# (topic, key, value) of one output record.
Output = tuple[str, bytes | None, bytes]
# One partition's share of a batch: its verdicts and the input offset to resume from.
Publish = tuple[TopicPartition, Sequence[Output], int]
ABORT_TIMEOUT_S = 5.0
# Kafka 4 answers a share of transactional produce requests with a retriable
# NOT_ENOUGH_REPLICAS (aiokafka issue #1172), and aiokafka waits retry_backoff_ms before each
# retry: at the default 100 ms that wait was most of a transaction's time (validator_bench:
# 460 ms mean per transaction, ~1 retry per transaction). Retries stay idempotent.
RETRY_BACKOFF_MS = 20
# aiokafka sends a partition's record batches one after another, a round trip each: batches
# near the broker's default max.message.bytes (1 MiB + 12) need a quarter of the round trips
# of shared.kafka's 256 KiB (mean transaction 590 -> 350 ms in validator_bench).
MAX_BATCH_BYTES = 1_000_000


@functools.lru_cache(maxsize=1 << 16)
def _key_hash(key: bytes) -> int:
    # Java's (and aiokafka's) default partitioner, so keyed output lands where send() would put it.
    return int(murmur2(key)) & 0x7FFFFFFF


def transactional_id(group_id: str, slot: Slot, slots: int) -> str:
    """The transactional id owning one slot's output, the same for every instance."""
    return f"deskpemilu-validator.{group_id}.{slot[0]}.slot{slot[1]}of{slots}"


class PartitionTransactions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rebalance listener and publisher: one producer per owned slot, one next offset per owned
    partition (the name is from when a slot was one partition: VALIDATOR_TRANSACTION_SLOTS equal
    to the partition count still makes it so)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        *,
        bootstrap_servers: str,
        group_id: str,
        transaction_timeout_ms: int,
        on_failure: Callable[[BaseException], None] | None = None,
        slots: int = DEFAULT_SLOTS,
    ) -> None:
        self._consumer = consumer
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._timeout_ms = transaction_timeout_ms
        self.slots = slots
        self._producers: dict[Slot, AIOKafkaProducer] = {}
        # The partitions this instance may judge: set once an assignment's previous owners are
        # fenced and its positions are set, emptied when the partitions are revoked (a
        # producer outlives its revocation, so a partition that comes back is not fenced again).
        self._owned: set[TopicPartition] = set()
        self._rebalancing = False  # from a revocation until the next take-over is done
        # Next input offset to judge per owned partition (set from the committed offset on
        # assignment, moved on when a batch is submitted); None: nothing committed yet.
        self._next: dict[TopicPartition, int | None] = {}
        self._partition_counts: dict[str, int] = {}
        self._failure: BaseException | None = None
        # The previous batch's transactions, committing while the next batch is judged.
        self._inflight: list[asyncio.Task[None]] = []
        self._on_failure = on_failure
        # Held while a batch is judged and submitted, and while the assignment changes: a
        # revocation waits for the batch in hand and the one in flight to commit.
        self.lock = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Wait for the batch in hand to commit, then judge nothing of these partitions until
        they are assigned again; the producers stay until the next assignment."""
        async with self.lock:
            await self._wait_inflight()
            # A batch the loop fetched before the rebalance may be handed over before the next
            # assignment: judged now, its transaction could still be open when that assignment
            # reads the committed offsets, and its records would be judged a second time.
            self._owned -= revoked
            self._rebalancing = True
            metrics.PARTITIONS_OWNED.set(len(self._owned))
            log.info("partitions revoked", extra={"partitions": sorted(map(str, revoked))})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Fence the partitions' previous owners, then resume from their committed offsets."""
        async with self.lock:
            try:
                await self._take_over(assigned)
            except BaseException as exc:
                # aiokafka only logs a listener's exception: keep it so the loop can raise it.
                self._failure = exc
                raise

    async def _take_over(self, assigned: set[TopicPartition]) -> None:
        # Nothing should be in flight after a revocation; if something is, it must end first.
        # A failed transaction leaves a next offset past the committed one: resume nothing.
        await self._wait_inflight()
        self.raise_failure()
        self._owned.clear()
        slots = self._whole_slots(assigned)
        gone = [slot for slot in self._producers if slot not in slots]
        await asyncio.gather(*(self._producers.pop(slot).stop() for slot in gone))
        for tp in [tp for tp in self._next if tp not in assigned]:
            self._next.pop(tp, None)
        # A partition kept from the last assignment resumes where this instance's own last
        # transaction left it, not from the committed offset the broker reports: that one
        # moves only once the transaction coordinator has written its markers, after
        # commit_transaction() returned (benchmarks/commit_visibility_probe.py: a read right
        # after a commit was stale 10 to 60 times in 300 here; OffsetFetch's require_stable,
        # KIP-447, is newer than aiokafka's request).
        resume: dict[TopicPartition, int | None] = {
            tp: offset for tp, offset in self._next.items() if offset is not None
        }
        new = sorted(slot for slot in slots if slot not in self._producers)
        producers = [self._slot_producer(slot) for slot in new]
        # start() waits for InitProducerId, which waits until the old owner's last transaction
        # is finished, markers included: its committed offsets can be read after it.
        await asyncio.gather(*(p.start() for p in producers))
        self._producers.update(zip(new, producers, strict=True))
        unknown = sorted(tp for tp in assigned if tp not in resume)
        committed = await asyncio.gather(*(self._consumer.committed(tp) for tp in unknown))
        resume.update(zip(unknown, committed, strict=True))
        for tp in sorted(assigned):
            offset = self._next[tp] = resume[tp]
            if offset is not None:
                # The position fetched before the fence may predate the old owner's last commit.
                self._consumer.seek(tp, offset)
        self._owned = set(assigned)
        self._rebalancing = False
        metrics.PARTITIONS_OWNED.set(len(self._owned))
        log.info(
            "partitions assigned",
            extra={
                "partitions": sorted(map(str, assigned)),
                "resume_at": {str(tp): resume[tp] for tp in sorted(assigned)},
                "read_committed": [str(tp) for tp in unknown],
            },
        )

    def _whole_slots(self, assigned: set[TopicPartition]) -> set[Slot]:
        """The slots of an assignment, which must hold each of them whole: a slot split between
        two instances would have two owners of one transactional id, fencing each other."""
        slots = {slot_of(tp.topic, tp.partition, self.slots) for tp in assigned}
        for slot in slots:
            count = len(self._consumer.partitions_for_topic(slot[0]) or ())
            missing = [
                p
                for p in slot_partitions(slot, self.slots, count)
                if TopicPartition(slot[0], p) not in assigned
            ]
            if missing:
                raise RuntimeError(
                    f"the assignment splits transaction slot {slot} (partitions {missing} are "
                    f"elsewhere): every validator of the group needs the same slot assignor"
                )
        return slots

    def _make_producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        """The transactional producer of the input partition's slot (not started)."""
        return self._slot_producer(slot_of(tp.topic, tp.partition, self.slots))

    def _slot_producer(self, slot: Slot) -> AIOKafkaProducer:
        # shared.kafka.make_producer's settings, plus the transaction timeout.
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=10_000,
            transactional_id=transactional_id(self._group_id, slot, self.slots),
            transaction_timeout_ms=self._timeout_ms,
            max_batch_size=MAX_BATCH_BYTES,
            retry_backoff_ms=RETRY_BACKOFF_MS,
            **kafka_client_options(),
        )

    def owns(self, tp: TopicPartition) -> bool:
        """True once the partition is assigned here and its previous owner fenced."""
        return tp in self._owned

    def producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        """The transactional producer of an owned partition (its slot's)."""
        return self._producers[slot_of(tp.topic, tp.partition, self.slots)]

    def raise_failure(self) -> None:
        """Raise if an assignment or a background transaction failed."""
        if self._failure is not None:
            raise RuntimeError("validator output failed") from self._failure

    def fresh(self, tp: TopicPartition, records: Records) -> Records:
        """The records of one partition still to judge (a batch fetched before a rebalance may
        hold records the committed offset has passed, or belong to a partition not owned now:
        revoked, or moved elsewhere; when the partition is assigned again, the take-over seeks
        to where it resumes, so they are fetched again)."""
        self.raise_failure()
        if tp not in self._owned:
            if not self._rebalancing and tp in self._consumer.assignment():
                # Skipping would move the position past records nobody judged: crash instead.
                raise RuntimeError(f"{tp} is assigned but was never taken over")
            metrics.STALE_RECORDS.inc(len(records))
            return ()
        start = self._next.get(tp)
        if start is None or records[0].offset >= start:
            return records
        kept = [r for r in records if r.offset >= start]
        metrics.STALE_RECORDS.inc(len(records) - len(kept))
        return kept

    def submit(self, publishes: Iterable[Publish]) -> None:
        """Start a batch's transactions (one per slot) in the background; drain() the previous
        batch first."""
        assert not self._inflight, "the previous batch is still in flight"
        by_slot: dict[Slot, list[Publish]] = {}
        for publish in publishes:
            tp, _, next_offset = publish
            # Judged up to here, though not yet committed: a batch fetched before a rebalance
            # and fetched again after it must not be judged twice while this one commits.
            self._next[tp] = next_offset
            by_slot.setdefault(slot_of(tp.topic, tp.partition, self.slots), []).append(publish)
        for slot, parts in by_slot.items():
            task = asyncio.create_task(self._commit(slot, parts))
            task.add_done_callback(self._finished)
            self._inflight.append(task)

    def _finished(self, task: asyncio.Task[None]) -> None:
        exc = None if task.cancelled() else task.exception()
        if exc is None or self._failure is not None:
            return
        self._failure = exc
        log.error("transaction failed", exc_info=exc)
        if self._on_failure is not None:
            self._on_failure(exc)

    async def drain(self) -> None:
        """Wait until the batch in flight has committed; raise if any transaction failed."""
        await self._wait_inflight()
        self.raise_failure()

    async def _wait_inflight(self) -> None:
        tasks, self._inflight = self._inflight, []
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _commit(self, slot: Slot, parts: Sequence[Publish]) -> None:
        """Send a slot's verdicts and next offsets in one transaction, and commit it."""
        producer = self._producers[slot]
        started = time.perf_counter()
        await producer.begin_transaction()
        try:
            for tp, outputs, next_offset in parts:
                await self._publish(tp, outputs, next_offset)
            offsets = {tp: next_offset for tp, _, next_offset in parts}
            await producer.send_offsets_to_transaction(offsets, self._group_id)
            await producer.commit_transaction()
        except BaseException:
            # Abort so read_committed readers are not held up until the transaction times out;
            # then crash: the partition's next owner starts again from the committed offset.
            with contextlib.suppress(KafkaError, TimeoutError, AssertionError):
                await asyncio.wait_for(producer.abort_transaction(), ABORT_TIMEOUT_S)
            raise
        metrics.TRANSACTION_SECONDS.observe(time.perf_counter() - started)

    async def _publish(
        self, tp: TopicPartition, outputs: Iterable[Output], next_offset: int
    ) -> None:
        """Send one partition's verdicts (those before next_offset) into its slot's open
        transaction; the slot's commit stores the next offsets of all its partitions at once."""
        del next_offset  # stored by _commit, with the slot's other partitions'
        await self._send_all(self.producer(tp), outputs, tp.partition)

    async def _send_all(
        self, producer: AIOKafkaProducer, outputs: Iterable[Output], input_partition: int
    ) -> None:
        # Records go into batches built here rather than one send() each: far less Python per
        # record, and commit_transaction() waits for every batch anyway.
        builders: dict[tuple[str, int], Any] = {}  # aiokafka BatchBuilder
        for topic, key, value in outputs:
            count = self._partition_counts.get(topic)
            if count is None:
                count = len(await producer.partitions_for(topic))
                self._partition_counts[topic] = count
            partition = (_key_hash(key) if key is not None else input_partition) % count
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[topic, partition] = producer.create_batch()
            if builder.append(timestamp=None, key=key, value=value) is None:
                await self._submit(producer, builder, topic, partition)
                builder = builders[topic, partition] = producer.create_batch()
                if builder.append(timestamp=None, key=key, value=value) is None:
                    # Larger than a whole batch: send() sizes a batch for it.
                    await producer.send(topic, value=value, key=key, partition=partition)
                    del builders[topic, partition]
        for (topic, partition), builder in builders.items():
            await self._submit(producer, builder, topic, partition)

    @staticmethod
    async def _submit(producer: AIOKafkaProducer, builder: Any, topic: str, part: int) -> None:
        builder.close()
        await producer.send_batch(builder, topic, partition=part)

    async def close(self) -> None:
        """Stop every producer; a transaction still in flight (only after a failure) is cut."""
        for task in self._inflight:
            task.cancel()
        await self._wait_inflight()
        producers = list(self._producers.values())
        self._producers.clear()
        await asyncio.gather(*(p.stop() for p in producers), return_exceptions=True)
