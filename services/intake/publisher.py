"""Publishing to Kafka with a bounded wait: acknowledged, or KafkaUnavailable (answered 503)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.intake import metrics
from shared.kafka import make_producer

log = logging.getLogger(__name__)


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
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), timeout=self._timeout_s + 5)
            except TimeoutError:
                log.warning("kafka producer did not flush before shutdown")

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record and wait for its acknowledgement, at most timeout_s."""
        producer = self._producer
        if producer is None:
            metrics.PUBLISH_ERRORS.labels("not_connected").inc()
            raise KafkaUnavailable("not_connected")
        started = time.perf_counter()
        try:
            # A record whose wait timed out may still be written later; that is harmless since
            # its submission id is deterministic and the aggregator keeps the first copy only.
            await asyncio.wait_for(self._send(producer, topic, key, value), self._timeout_s)
        except TimeoutError as exc:
            self._failing = True
            metrics.PUBLISH_ERRORS.labels("timeout").inc()
            raise KafkaUnavailable("timeout") from exc
        except KafkaError as exc:
            self._failing = True
            metrics.PUBLISH_ERRORS.labels(type(exc).__name__).inc()
            log.warning("kafka publish failed", extra={"error": str(exc)})
            raise KafkaUnavailable(type(exc).__name__) from exc
        self._failing = False
        metrics.KAFKA_ACK_SECONDS.observe(time.perf_counter() - started)

    @staticmethod
    async def _send(producer: AIOKafkaProducer, topic: str, key: bytes, value: bytes) -> None:
        delivery = await producer.send(topic, value, key=key)
        await delivery

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
