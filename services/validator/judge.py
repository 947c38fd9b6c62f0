"""Judging one received record: decode, apply the rules, and encode the verdict (pure, no I/O)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from pydantic import TypeAdapter, ValidationError

from services.validator.reviews import check_review
from services.validator.rules import has_errors, validate_submission
from services.validator.schemas import (
    DeadLetter,
    ReviewDecided,
    SubmissionReceived,
    Violation,
    received_adapter,
)
from shared.events import utcnow
from shared.roster import ElectionRoster

log = logging.getLogger(__name__)

# Kafka refuses records above max.message.bytes (1 MiB by default): a verdict that would not
# fit goes to the DLQ instead, and a DLQ record keeps at most this much of the original.
MAX_VERDICT_BYTES = 900 * 1024
MAX_ORIGINAL_BYTES = 512 * 1024
MAX_ERROR_CHARS = 4000

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_VIOLATIONS: TypeAdapter[tuple[Violation, ...]] = TypeAdapter(tuple[Violation, ...])
_SUBMISSION_JSON = SubmissionReceived.__pydantic_serializer__.to_json
_REVIEW_JSON = ReviewDecided.__pydantic_serializer__.to_json


class Outcome(StrEnum):
    """Where a judged record went."""

    VALIDATED = "validated"  # submissions.validated: passed every error rule
    REJECTED = "rejected"  # submissions.rejected: broke at least one error rule
    DEAD_LETTER = "dead_letter"  # submissions.dlq: undecodable or unknown schema
    REVIEW = "review"  # submissions.validated: a review decision forwarded as it is
    REVIEW_REJECTED = "review_rejected"  # submissions.dlq: a review decision refused


class Verdict(NamedTuple):
    """The record to publish for one input record, and why."""

    # NamedTuples rather than frozen dataclasses: one of each per record, built in a third of
    # the time (a frozen dataclass sets every field through object.__setattr__).

    outcome: Outcome
    key: bytes | None
    value: bytes
    violations: Sequence[Violation] = ()


@dataclass(frozen=True, slots=True)
class Stamp:
    """The judgement time of one batch, as a datetime and as its JSON string."""

    at: datetime
    json: bytes

    @classmethod
    def now(cls) -> Stamp:
        """The current time, serialised once for the whole batch."""
        at = utcnow()
        return cls(at=at, json=_DATETIME.dump_json(at))


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A record that is not a received event of a known schema, with pydantic's reason."""

    error: str


Decoded = SubmissionReceived | ReviewDecided | Undecodable


def decode(value: bytes | None) -> Decoded:
    """Parse a received record's value into its event, or say why it cannot be parsed."""
    if value is None:
        return Undecodable("record has no value")
    try:
        return received_adapter.validate_json(value)
    except ValidationError as exc:
        return Undecodable(str(exc)[:MAX_ERROR_CHARS])


def election_of(event: Decoded) -> str | None:
    """The election a decoded event names (None for an undecodable record)."""
    if isinstance(event, SubmissionReceived):
        return event.form.election
    if isinstance(event, ReviewDecided):
        return event.election
    return None


class Source(NamedTuple):
    """Where a record was read, for its dead letter."""

    topic: str
    partition: int
    offset: int
    key: bytes | None


def judge(
    event: Decoded,
    value: bytes | None,
    source: Source,
    rosters: Mapping[str, ElectionRoster],
    stamp: Stamp,
) -> Verdict:
    """The verdict on one decoded record (value is the original bytes, for a dead letter)."""
    if isinstance(event, Undecodable):
        return dead_letter(source, value, event.error, stamp)
    try:
        if isinstance(event, SubmissionReceived):
            verdict = _judge_submission(event, rosters.get(event.form.election), stamp)
        else:
            verdict = _judge_review(event, rosters.get(event.election), source, value, stamp)
    # A rule that crashes on one form must not stop the stream for every form behind it:
    # the record goes to the DLQ with the reason, and the log keeps the traceback.
    except Exception as exc:
        log.exception(
            "rule evaluation failed",
            extra={"partition": source.partition, "offset": source.offset},
        )
        return dead_letter(source, value, f"validator error: {exc!r}", stamp)
    if len(verdict.value) > MAX_VERDICT_BYTES:
        return dead_letter(source, value, f"verdict too large ({len(verdict.value)} bytes)", stamp)
    return verdict


def _judge_submission(
    sub: SubmissionReceived, roster: ElectionRoster | None, stamp: Stamp
) -> Verdict:
    violations = validate_submission(sub, roster)
    key = sub.form.tps.encode()
    submission = _SUBMISSION_JSON(sub)
    listed = _VIOLATIONS.dump_json(tuple(violations)) if violations else b"[]"
    # The envelope is assembled around the serialised submission: the same bytes as
    # SubmissionValidated(...).model_dump_json() (a unit test holds them equal), built faster.
    if violations and has_errors(violations):
        value = b"".join(
            (
                b'{"type":"submission.rejected","submission":',
                submission,
                b',"violations":',
                listed,
                b',"rejected_at":',
                stamp.json,
                b"}",
            )
        )
        return Verdict(Outcome.REJECTED, key, value, violations)
    value = b"".join(
        (
            b'{"type":"submission.validated","submission":',
            submission,
            b',"warnings":',
            listed,
            b',"validated_at":',
            stamp.json,
            b"}",
        )
    )
    return Verdict(Outcome.VALIDATED, key, value, violations)


def _judge_review(
    decision: ReviewDecided,
    roster: ElectionRoster | None,
    source: Source,
    value: bytes | None,
    stamp: Stamp,
) -> Verdict:
    violations = check_review(decision, roster)
    key = decision.tps.encode()
    if not violations:
        return Verdict(Outcome.REVIEW, key, _REVIEW_JSON(decision))
    # A refused decision has no place on the rejected topic (whose events carry a form):
    # it goes to the DLQ, where an admin sees why, with the original to replay once fixed.
    reasons = "; ".join(f"{v.code}: {v.message}" for v in violations)
    letter = dead_letter(source, value, f"review rejected: {reasons}", stamp)
    return Verdict(Outcome.REVIEW_REJECTED, key, letter.value, violations)


def dead_letter(source: Source, value: bytes | None, error: str, stamp: Stamp) -> Verdict:
    """A DLQ verdict carrying the reason and the original bytes (cut at MAX_ORIGINAL_BYTES)."""
    original = value or b""
    if len(original) > MAX_ORIGINAL_BYTES:
        error = f"{error} (original of {len(original)} bytes cut to {MAX_ORIGINAL_BYTES})"
        original = original[:MAX_ORIGINAL_BYTES]
    letter = DeadLetter(
        source_topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        error=error[:MAX_ERROR_CHARS],
        key=source.key.decode("utf-8", "replace") if source.key is not None else None,
        original_b64=base64.b64encode(original).decode("ascii"),
        failed_at=stamp.at,
    )
    return Verdict(Outcome.DEAD_LETTER, source.key, letter.model_dump_json().encode())
