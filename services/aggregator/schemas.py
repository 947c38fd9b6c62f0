"""The records the aggregator reads and writes: shared.events' models, named here in one place.

It reads `submissions.validated.v1` (SubmissionValidated, ReviewDecided) and writes what it cannot
count to the dead-letter topic (DeadLetter). The models live in shared/ because the validator
writes the same records; the database rows it writes are repository.py's.
"""

from __future__ import annotations

from shared.events import (
    DeadLetter,
    ReviewDecided,
    SubmissionReceived,
    SubmissionValidated,
    Violation,
    validated_adapter,
)

__all__ = [
    "DeadLetter",
    "ReviewDecided",
    "SubmissionReceived",
    "SubmissionValidated",
    "Violation",
    "validated_adapter",
]
