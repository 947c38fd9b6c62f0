"""Aggregator process: consumes validated submissions and keeps running totals in PostgreSQL."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from services.aggregator.settings import AggregatorSettings
from shared.consumer import Records, install_stop_signals, run_batches, subscribe
from shared.db import create_pool
from shared.logs import configure_logging
from shared.ops import serve_ops

log = logging.getLogger(__name__)
SERVICE = "aggregator"


async def main(settings: AggregatorSettings | None = None) -> None:
    """Run until SIGTERM: consume, apply each batch in one transaction with its offsets."""
    settings = settings or AggregatorSettings()
    configure_logging(SERVICE, settings.log_level)
    stop = asyncio.Event()
    install_stop_signals(stop)
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )

    async def health() -> dict[str, bool]:
        async with pool.acquire() as conn:
            db_ok = await conn.fetchval("SELECT true") is True
        return {"postgres": db_ok, "running": not stop.is_set()}

    ops = await serve_ops(SERVICE, settings.ops_host, settings.ops_port, health)
    await consumer.start()
    try:
        subscribe(consumer, [settings.topics.validated])

        async def handle(records: Records) -> None:
            # TODO(issue 6): apply the batch and store offsets in one transaction.
            log.debug("batch", extra={"records": len(records)})

        await run_batches(
            consumer, handle, stop, service=SERVICE, commit=False, max_records=settings.max_batch
        )
    finally:
        await consumer.stop()
        await pool.close()
        ops.should_exit = True
