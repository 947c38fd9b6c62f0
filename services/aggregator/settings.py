"""Aggregator settings, from environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.settings import CommonSettings


class AggregatorSettings(CommonSettings):
    """Where to consume, how big a batch may be, and the ops port."""

    consumer_group: str = Field(default="aggregator", validation_alias="AGGREGATOR_GROUP")
    # Static group membership (KIP-345): a restarted instance with the same id gets its
    # partitions back at once instead of waiting out the dead member's session.
    instance_id: str | None = Field(default=None, validation_alias="AGGREGATOR_INSTANCE_ID")
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, validation_alias="AGGREGATOR_SESSION_TIMEOUT_MS"
    )
    ops_host: str = Field(default="127.0.0.1", validation_alias="AGGREGATOR_HOST")
    ops_port: int = Field(default=8003, validation_alias="AGGREGATOR_PORT")
    # Bigger batches merge more deltas into the same area rows (measured: 5000 beats 2000).
    max_batch: int = Field(default=5000, ge=1, validation_alias="AGGREGATOR_MAX_BATCH")
    # A batch that is not full waits this long for more records (shared.consumer.fetch_batch):
    # each batch is a PostgreSQL transaction per lane, whose fixed cost small batches paid per
    # handful of forms (benchmarks/RESULTS.md, e2e_profile).
    linger_ms: int = Field(default=100, ge=0, le=5000, validation_alias="AGGREGATOR_LINGER_MS")
    # Concurrent batch transactions, each on the partitions whose number % lanes is its own.
    lanes: int = Field(default=2, ge=1, le=16, validation_alias="AGGREGATOR_LANES")
    # The aggregator's batch transactions commit without waiting for their WAL to reach the
    # disk. Safe for exactly-once: the Kafka offsets are in the same transaction, so a
    # PostgreSQL crash can only lose a suffix of whole batches, offsets included, which the
    # aggregator reads again from Kafka and applies again (docs/decisions/0006). A commit no longer
    # waits out a slow fsync, nor does another lane waiting on the area rows it holds.
    synchronous_commit: Literal["on", "off"] = Field(
        default="off", validation_alias="AGGREGATOR_SYNCHRONOUS_COMMIT"
    )
    max_partition_fetch_bytes: int = Field(
        default=4 * 1024 * 1024, ge=65536, validation_alias="AGGREGATOR_MAX_PARTITION_FETCH_BYTES"
    )

    @property
    def group_id(self) -> str:
        """Consumer group under the topic prefix; it also keys the offsets kept in PostgreSQL."""
        return self.topic_prefix + self.consumer_group
