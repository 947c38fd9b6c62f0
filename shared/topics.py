"""Kafka topic names and their configuration (topics are created explicitly, never auto-created)."""

from __future__ import annotations

from dataclasses import dataclass, field

RECEIVED = "submissions.received.v1"
VALIDATED = "submissions.validated.v1"
REJECTED = "submissions.rejected.v1"
DLQ = "submissions.dlq.v1"
PHOTOS = "photos.received.v1"
INCIDENTS = "incidents.v1"


@dataclass(frozen=True)
class TopicSpec:
    """A topic and its per-topic configuration."""

    name: str
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """The four topic names, optionally prefixed (tests and a second desk on one cluster)."""

    prefix: str = ""

    @property
    def received(self) -> str:
        """System of record: every accepted submission and review decision."""
        return self.prefix + RECEIVED

    @property
    def validated(self) -> str:
        """Forms that passed validation, plus review decisions."""
        return self.prefix + VALIDATED

    @property
    def rejected(self) -> str:
        """Forms that broke an error rule, with the violations."""
        return self.prefix + REJECTED

    @property
    def dlq(self) -> str:
        """Records that could not be decoded, with the original bytes."""
        return self.prefix + DLQ

    @property
    def photos(self) -> str:
        """Photo metadata (the bytes are in the blob store), kept forever: a replay relinks."""
        return self.prefix + PHOTOS

    @property
    def incidents(self) -> str:
        """Incident reports from the field and the desk's updates on them, kept forever."""
        return self.prefix + INCIDENTS

    def specs(self) -> tuple[TopicSpec, ...]:
        """Every topic with its configuration; received is kept forever for replays."""
        month_ms = str(30 * 24 * 3600 * 1000)
        return (
            TopicSpec(self.received, {"retention.ms": "-1", "retention.bytes": "-1"}),
            TopicSpec(self.validated, {"retention.ms": month_ms}),
            TopicSpec(self.rejected, {"retention.ms": month_ms}),
            TopicSpec(self.dlq, {"retention.ms": str(3 * int(month_ms))}),
            TopicSpec(self.photos, {"retention.ms": "-1", "retention.bytes": "-1"}),
            TopicSpec(self.incidents, {"retention.ms": "-1", "retention.bytes": "-1"}),
        )


ALL_TOPICS: tuple[TopicSpec, ...] = Topics().specs()
