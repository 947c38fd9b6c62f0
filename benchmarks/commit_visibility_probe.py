"""How often the committed offset read right after commit_transaction() is still the old one.

The validator commits its input offsets inside each output transaction. commit_transaction()
returns once the transaction coordinator has decided the commit; the offsets become visible to
OffsetFetch only when the coordinator has written its markers. This probe runs N transactions
on a throwaway topic, each storing offset i, and reads the committed offset right after each
commit. Why it matters: services/validator/transactions.py (`_take_over`).

    .venv/bin/python -m benchmarks.commit_visibility_probe
    .venv/bin/python -m benchmarks.commit_visibility_probe --transactions 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


async def probe(bootstrap: str, transactions: int) -> int:
    """Run the transactions; return how many reads right after a commit were stale."""
    name = uuid.uuid4().hex[:10]
    topic, group = f"probe.{name}", f"probe-{name}"
    tp = TopicPartition(topic, 0)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"probe-{name}",
        enable_idempotence=True,
        acks="all",
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    stale = 0
    try:
        await producer.start()
        await consumer.start()
        for i in range(1, transactions + 1):
            async with producer.transaction():
                await producer.send(topic, b"x")
                await producer.send_offsets_to_transaction({tp: i}, group)
            if await consumer.committed(tp) != i:
                stale += 1
            if i % 100 == 0:
                print(f"  {i}/{transactions} transactions, {stale} stale reads", file=sys.stderr)
    finally:
        await consumer.stop()
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=300)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    stale = asyncio.run(probe(bootstrap, args.transactions))
    print(
        f"{stale} of {args.transactions} reads of the committed offset right after "
        f"commit_transaction() returned the previous offset"
    )


if __name__ == "__main__":
    main()
