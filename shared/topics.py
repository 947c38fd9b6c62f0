"""Kafka topic names and their configuration (topics are created explicitly, never auto-created)."""

from __future__ import annotations

from dataclasses import dataclass, field

RECEIVED = "submissions.received.v1"
VALIDATED = "submissions.validated.v1"
REJECTED = "submissions.rejected.v1"
DLQ = "submissions.dlq.v1"


@dataclass(frozen=True)
class TopicSpec:
    """A topic and its per-topic configuration."""

    name: str
    config: dict[str, str] = field(default_factory=dict)


# received is the system of record: kept forever so `deskpemilu rebuild` can replay it.
ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(RECEIVED, {"retention.ms": "-1", "retention.bytes": "-1"}),
    TopicSpec(VALIDATED, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    TopicSpec(REJECTED, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    TopicSpec(DLQ, {"retention.ms": str(90 * 24 * 3600 * 1000)}),
)
