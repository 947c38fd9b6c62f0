"""Validator metrics: verdicts by outcome and rule code, transactions, roster reloads."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FORMS = Counter(
    "deskpemilu_validator_forms_total",
    "Received records judged, by outcome "
    "(validated, rejected, dead_letter, review, review_rejected)",
    ["outcome"],
)
# Present from the start at 0, so the first dead letter is an increase an alert can see.
for _outcome in ("validated", "rejected", "dead_letter", "review", "review_rejected"):
    FORMS.labels(_outcome)
VIOLATIONS = Counter(
    "deskpemilu_validator_violations_total",
    "Rule violations found, by code and severity",
    ["code", "severity"],
)
TRANSACTION_SECONDS = Histogram(
    "deskpemilu_validator_transaction_seconds",
    "Time to publish one partition's verdicts and commit them with its offsets",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STALE_RECORDS = Counter(
    "deskpemilu_validator_stale_records_total",
    "Records skipped because a rebalance took their partition away or moved its position past them",
)
PARTITIONS_OWNED = Gauge(
    "deskpemilu_validator_partitions_owned",
    "Input partitions this instance judges now (0 from a revocation until the next take-over)",
)
ROSTER_VERSION = Gauge("deskpemilu_validator_roster_version", "Roster version in memory")
ROSTER_RELOADS = Counter("deskpemilu_validator_roster_reloads_total", "Roster loads done")
ROSTER_ERRORS = Counter(
    "deskpemilu_validator_roster_errors_total", "Roster refreshes that failed (cache kept)"
)
