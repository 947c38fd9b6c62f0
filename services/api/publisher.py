"""Publishes review decisions to Kafka; the api keeps serving reads while Kafka is away."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.codec import encode, key_for_tps
from shared.events import ReviewDecided
from shared.kafka import make_producer

log = logging.getLogger(__name__)


class PublishUnavailable(Exception):
    """Kafka did not acknowledge in time: nothing can be promised to the caller."""


class ReviewPublisher:
    """An idempotent producer started on first use (and again after a failed start)."""

    def __init__(self, bootstrap_servers: str, topic: str, *, timeout_s: float) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = make_producer(
                self.bootstrap_servers, request_timeout_ms=int(self.timeout_s * 1000)
            )
            try:
                await asyncio.wait_for(producer.start(), self.timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                with contextlib.suppress(KafkaError, OSError, TimeoutError):
                    await asyncio.wait_for(producer.stop(), 2)
                raise PublishUnavailable(str(exc) or type(exc).__name__) from exc
            self._producer = producer
            return producer

    async def publish(self, decision: ReviewDecided) -> None:
        """Send the decision keyed by its TPS and wait for the acknowledgement (acks=all)."""
        await self.send(self.topic, key_for_tps(decision.tps), encode(decision))

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record to a topic and wait for the acknowledgement (acks=all)."""
        producer = await self._started()
        try:
            async with asyncio.timeout(self.timeout_s):
                await producer.send_and_wait(topic, value=value, key=key)
        except (KafkaError, TimeoutError) as exc:
            raise PublishUnavailable(str(exc) or type(exc).__name__) from exc

    @property
    def ready(self) -> bool:
        """True once a producer has started."""
        return self._producer is not None

    async def stop(self) -> None:
        """Flush and close the producer, if one was started."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
