"""Kafka plumbing shared by the services: producer factory and explicit topic creation."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.topics import ALL_TOPICS, TopicSpec

log = logging.getLogger(__name__)


def make_producer(
    bootstrap_servers: str,
    *,
    transactional_id: str | None = None,
    linger_ms: int = 5,
    request_timeout_ms: int = 10_000,
) -> AIOKafkaProducer:
    """An idempotent producer waiting for all in-sync replicas (acks=all) before acknowledging."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        transactional_id=transactional_id,
        compression_type=None,
        max_batch_size=256 * 1024,
    )


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int,
    replication_factor: int,
    topics: Iterable[TopicSpec] = ALL_TOPICS,
) -> list[str]:
    """Create the missing topics with their configuration; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=spec.name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=dict(spec.config),
            )
            for spec in topics
            if spec.name not in existing
        ]
        if not wanted:
            return []
        try:
            response = await admin.create_topics(wanted)
        except TopicAlreadyExistsError:
            return []  # another process created them between our list and create
        created = []
        for topic, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"creating topic {topic} failed with Kafka error code {code}")
            if code == 0:
                created.append(topic)
        log.info("topics created", extra={"topics": created})
        return created
    finally:
        await admin.close()
