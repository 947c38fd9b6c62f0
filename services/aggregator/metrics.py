"""Prometheus metrics of the aggregator."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from shared.events import utcnow

FORMS = Counter(
    "deskpemilu_aggregator_forms_total",
    "Events applied by the aggregator, by decision (new, duplicate, revision, conflict, ...)",
    ["decision"],
)
# Present from the start at 0, so the first conflicts are an increase an alert can see.
FORMS.labels("conflict")
BATCH_SIZE = Histogram(
    "deskpemilu_aggregator_batch_size",
    "Kafka records per aggregator batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
BATCH_SECONDS = Histogram(
    "deskpemilu_aggregator_batch_seconds",
    "Time of one batch transaction, from its first query to its commit",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SKIPPED = Counter(
    "deskpemilu_aggregator_skipped_records_total",
    "Records below the offsets stored in PostgreSQL (redelivered after a crash or rebalance)",
)
UNDECODABLE = Counter(
    "deskpemilu_aggregator_undecodable_records_total",
    "Records that were not a valid event; sent to the DLQ",
)
CONFLICTS_OPEN = Gauge(
    "deskpemilu_aggregator_conflicts_open",
    "TPS results in status disputed, waiting for a review decision",
)
FRESHNESS = Histogram(
    "deskpemilu_aggregator_freshness_seconds",
    "Time from the intake publishing a form (the 202 follows its Kafka ack) to the aggregator's "
    "commit of it; SLO: p99 under 1 s",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30, 60),
)


def observe_freshness(published: Iterable[datetime | None]) -> None:
    """Observe each committed form's age; forms without the intake's time are left out."""
    now = utcnow()
    for at in published:
        if at is not None:
            FRESHNESS.observe(max(0.0, (now - at).total_seconds()))
