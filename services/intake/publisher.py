"""Publishing to Kafka with a bounded wait: acknowledged, or KafkaUnavailable (answered 503)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from services.intake import metrics
from shared.kafka import make_producer

log = logging.getLogger(__name__)

# topic, key, value, the request's future, its time.monotonic() deadline
_Pending = tuple[str, bytes, bytes, "asyncio.Future[None]", float]


@functools.lru_cache(maxsize=1_000_000)
def _murmur2(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge in time, or cannot be reached: nothing may be claimed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Publisher:
    """One idempotent producer (acks=all), connected in the background so the app starts anyway."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        timeout_s: float,
        linger_ms: int,
        retry_s: float,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._retry_s = retry_s
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None
        self._failing = False
        self._pending: list[_Pending] = []
        self._in_flight: asyncio.Task[None] | None = None
        self._flush_due = False
        self._partitions: dict[str, list[int]] = {}

    @property
    def connected(self) -> bool:
        """True once the producer has bootstrapped."""
        return self._producer is not None

    def start(self) -> None:
        """Begin connecting in the background; publish() answers KafkaUnavailable until then."""
        self._connector = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    async def _connect_forever(self) -> None:
        while True:
            producer = make_producer(
                self._bootstrap,
                linger_ms=self._linger_ms,
                # aiokafka gives up on a batch after this; the route's own bound is shorter.
                request_timeout_ms=max(int(self._timeout_s * 1000) * 2, 10_000),
            )
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("kafka producer cannot start yet", extra={"error": str(exc)})
                await producer.stop()
                await asyncio.sleep(self._retry_s)
                continue
            self._producer = producer
            log.info("kafka producer connected", extra={"bootstrap": self._bootstrap})
            return

    async def stop(self) -> None:
        """Stop connecting, flush what is pending (bounded), close the producer."""
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._in_flight is not None:
            await asyncio.wait({self._in_flight}, timeout=self._timeout_s + 1)
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), timeout=self._timeout_s + 5)
            except TimeoutError:
                log.warning("kafka producer did not flush before shutdown")

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record and wait for its acknowledgement, at most timeout_s.

        Records travel in groups: while one group is in flight, new records gather for the next
        one (one batch per partition, one future and one timer per group instead of per record,
        which is most of the CPU per form, and bigger batches the busier the desk).
        """
        if self._producer is None:
            metrics.PUBLISH_ERRORS.labels("not_connected").inc()
            raise KafkaUnavailable("not_connected")
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()
        if not self._pending and not self._flush_due and self._in_flight is None:
            self._flush_due = True
            loop.call_soon(self._flush)
        self._pending.append((topic, key, value, acked, time.monotonic() + self._timeout_s))
        await acked

    def _flush(self) -> None:
        self._flush_due = False
        if not self._pending or self._in_flight is not None:
            return
        group, self._pending = self._pending, []
        self._in_flight = asyncio.create_task(self._send_group(group))
        self._in_flight.add_done_callback(self._group_done)

    def _group_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight = None
        if self._pending:
            self._flush()

    async def _send_group(self, group: list[_Pending]) -> None:
        try:
            await self._deliver(group)
        except BaseException:
            # Whatever went wrong, no request may wait forever on its record.
            self._fail(group, "internal")
            raise

    async def _deliver(self, group: list[_Pending]) -> None:
        producer = self._producer
        started = time.perf_counter()
        try:
            if producer is None:
                raise KafkaUnavailable("not_connected")
            # A record whose wait timed out may still be written later; that is harmless since
            # its submission id is deterministic and the aggregator keeps the first copy only.
            # The group's deadline is its oldest record's: no request waits past timeout_s.
            async with asyncio.timeout_at(self._loop_deadline(group[0][4])):
                deliveries = []
                for (topic, partition), records in (await self._by_partition(group)).items():
                    batch = producer.create_batch()
                    for key, value in records:
                        if batch.append(key=key, value=value, timestamp=None) is None:
                            deliveries.append(
                                await producer.send_batch(batch, topic, partition=partition)
                            )
                            batch = producer.create_batch()
                            batch.append(key=key, value=value, timestamp=None)
                    deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                await asyncio.gather(*deliveries)
        except TimeoutError:
            self._fail(group, "timeout")
            return
        except KafkaUnavailable as exc:
            self._fail(group, exc.reason)
            return
        except KafkaError as exc:
            log.warning("kafka publish failed", extra={"error": str(exc)})
            self._fail(group, type(exc).__name__)
            return
        self._failing = False
        elapsed = time.perf_counter() - started
        for _, _, _, acked, _ in group:
            if not acked.done():
                acked.set_result(None)
            metrics.KAFKA_ACK_SECONDS.observe(elapsed)

    async def _by_partition(
        self, group: list[_Pending]
    ) -> dict[tuple[str, int], list[tuple[bytes, bytes]]]:
        assert self._producer is not None
        by_partition: dict[tuple[str, int], list[tuple[bytes, bytes]]] = {}
        for topic, key, value, *_ in group:
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = sorted(await self._producer.partitions_for(topic))
                self._partitions[topic] = partitions
            # Kafka's default partitioner (murmur2 of the key), as every other producer uses.
            partition = partitions[_murmur2(key) % len(partitions)]
            by_partition.setdefault((topic, partition), []).append((key, value))
        return by_partition

    @staticmethod
    def _loop_deadline(monotonic_deadline: float) -> float:
        loop = asyncio.get_running_loop()
        return loop.time() + (monotonic_deadline - time.monotonic())

    def _fail(self, group: list[_Pending], reason: str) -> None:
        waiting = [acked for _, _, _, acked, _ in group if not acked.done()]
        if not waiting:
            return
        self._failing = True
        self._partitions.clear()  # refetch metadata once Kafka is back
        metrics.PUBLISH_ERRORS.labels(reason).inc(len(waiting))
        for acked in waiting:
            acked.set_exception(KafkaUnavailable(reason))

    async def healthy(self) -> bool:
        """Connected, and either the last publish worked or the cluster answers metadata now."""
        producer = self._producer
        if producer is None:
            return False
        if not self._failing:
            return True
        try:
            ok = await asyncio.wait_for(producer.client.force_metadata_update(), timeout=1.0)
        except (TimeoutError, KafkaError):
            return False
        if ok:
            self._failing = False
        return bool(ok)
