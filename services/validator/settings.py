"""Validator settings, from environment variables."""

from __future__ import annotations

from pydantic import Field

from services.validator.slots import DEFAULT_SLOTS
from shared.settings import CommonSettings


class ValidatorSettings(CommonSettings):
    """Where to consume and publish, the ops port, batch size and roster polling."""

    consumer_group: str = Field(default="validator", validation_alias="VALIDATOR_GROUP")
    ops_host: str = Field(default="127.0.0.1", validation_alias="VALIDATOR_HOST")
    ops_port: int = Field(default=8002, validation_alias="VALIDATOR_PORT")
    # Names this instance in the group's member list (default: host name and process id).
    instance_id: str = Field(default="", validation_alias="VALIDATOR_INSTANCE_ID")
    # Records judged per batch (one transaction per slot per batch): large batches share
    # each transaction's round trips among more forms; a slow stream still makes small ones.
    # 20,000 was no faster in validator_bench and peaked at 375 MiB RSS instead of 255.
    max_batch: int = Field(default=10_000, ge=1, validation_alias="VALIDATOR_MAX_BATCH")
    # A batch that is not full waits this long for more records (shared.consumer.fetch_batch):
    # each batch costs a Kafka transaction per slot it holds, a fixed price that small
    # batches paid per handful of forms (benchmarks/RESULTS.md, e2e_profile).
    linger_ms: int = Field(default=100, ge=0, le=5000, validation_alias="VALIDATOR_LINGER_MS")
    # How often the roster version row is polled; a form naming an unknown election also
    # triggers a check, at most once a second.
    roster_poll_seconds: float = Field(
        default=2.0, gt=0, validation_alias="VALIDATOR_ROSTER_POLL_SECONDS"
    )
    # An open transaction of a crashed validator is aborted at the latest after this long;
    # usually sooner, when its partitions are reassigned and the new owner fences it.
    transaction_timeout_ms: int = Field(
        default=30_000, ge=1000, validation_alias="VALIDATOR_TRANSACTION_TIMEOUT_MS"
    )
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, validation_alias="VALIDATOR_SESSION_TIMEOUT_MS"
    )
    # Input partitions whose number % slots is the same commit in one transaction, under one
    # transactional id (services/validator/slots.py). At most this many validators share the
    # work. Every validator of a group needs the same value (one with another cannot join);
    # change it only with the group's validators stopped, like the partition count.
    transaction_slots: int = Field(
        default=DEFAULT_SLOTS, ge=1, le=1000, validation_alias="VALIDATOR_TRANSACTION_SLOTS"
    )

    @property
    def group_id(self) -> str:
        """The consumer group, under the topic prefix: two desks on one cluster never mix."""
        return self.topic_prefix + self.consumer_group
