"""Validator process: consumes received submissions and publishes verdicts."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from services.validator.settings import ValidatorSettings
from shared.consumer import Records, install_stop_signals, run_batches, subscribe
from shared.kafka import make_producer
from shared.logs import configure_logging
from shared.ops import serve_ops

log = logging.getLogger(__name__)
SERVICE = "validator"


async def main(settings: ValidatorSettings | None = None) -> None:
    """Run until SIGTERM: consume, judge, publish, commit."""
    settings = settings or ValidatorSettings()
    configure_logging(SERVICE, settings.log_level)
    stop = asyncio.Event()
    install_stop_signals(stop)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = make_producer(settings.kafka_bootstrap_servers)

    async def health() -> dict[str, bool]:
        return {"kafka": consumer.assignment() is not None and not stop.is_set()}

    ops = await serve_ops(SERVICE, settings.ops_host, settings.ops_port, health)
    await producer.start()
    await consumer.start()
    try:
        subscribe(consumer, [settings.topics.received])

        async def handle(records: Records) -> None:
            # TODO(issue 5): judge each record against the roster and publish the verdict.
            log.debug("batch", extra={"records": len(records)})

        await run_batches(consumer, handle, stop, service=SERVICE, max_records=settings.max_batch)
    finally:
        await consumer.stop()
        await producer.stop()
        ops.should_exit = True
