"""A real consumer process for the consumer-loop tests: records each handled offset in a file."""

from __future__ import annotations

import asyncio
import os
import sys

from aiokafka import AIOKafkaConsumer

from shared.consumer import Records, install_stop_signals, run_batches, subscribe


async def main(bootstrap: str, topic: str, group: str, out_path: str, max_records: int) -> None:
    """Consume `topic` slowly, appending 'partition:offset' per record to out_path."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        subscribe(consumer, [topic])
        with open(out_path, "a") as out:

            async def handle(records: Records) -> None:
                for record in records:
                    out.write(f"{record.partition}:{record.offset}\n")
                    out.flush()
                    os.fsync(out.fileno())
                    await asyncio.sleep(0.01)  # slow enough to be killed mid-batch

            await run_batches(consumer, handle, stop, service="test", max_records=max_records)
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
