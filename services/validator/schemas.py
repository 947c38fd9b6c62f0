"""The records the validator reads and writes: shared.events' models, named here in one place.

It reads `submissions.received.v1` (SubmissionReceived, ReviewDecided), writes each verdict to
`submissions.validated.v1` (SubmissionValidated, or the ReviewDecided it checked) and what it cannot
judge to the dead-letter topic (DeadLetter). The models live in shared/ because the intake writes
and the aggregator reads the same records.
"""

from __future__ import annotations

from shared.events import (
    DeadLetter,
    ReviewDecided,
    SubmissionReceived,
    SubmissionValidated,
    Violation,
    received_adapter,
    validated_adapter,
)

__all__ = [
    "DeadLetter",
    "ReviewDecided",
    "SubmissionReceived",
    "SubmissionValidated",
    "Violation",
    "received_adapter",
    "validated_adapter",
]
