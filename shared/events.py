"""Event models carried on the Kafka topics (past-tense names; one schema version per topic)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.form import CHasil, Contest, ElectionId, TpsCode
from shared.incidents import (
    MAX_NOTE_CHARS,
    MAX_TEXT_CHARS,
    IncidentAction,
    IncidentCategory,
    IncidentSeverity,
)

# Fixed namespace so that (operator, idempotency key) always maps to the same submission id,
# even when the intake process that saw the first attempt has crashed.
SUBMISSION_NAMESPACE = uuid.UUID("5f0b6c1e-2d55-4a53-9a51-6c0d0e1e2b44")


def submission_id_for(operator_id: str, idempotency_key: str) -> uuid.UUID:
    """Deterministic submission id of one operator's idempotency key."""
    return uuid.uuid5(SUBMISSION_NAMESPACE, f"{operator_id}\n{idempotency_key}")


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Channel(StrEnum):
    """How a submission reached the desk."""

    API = "api"
    BATCH = "batch"
    UPLOAD = "upload"
    WHATSAPP = "whatsapp"
    SMS = "sms"


class Role(StrEnum):
    """Operator roles, weakest first."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    CAMAT = "camat"
    ADMIN = "admin"


class Severity(StrEnum):
    """An error rejects a form; a warning only flags it."""

    ERROR = "error"
    WARNING = "warning"


class EventModel(BaseModel):
    """Base of every event: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OperatorRef(EventModel):
    """Who sent something, with the role and area scope they had at that moment."""

    id: str
    role: Role
    scope: tuple[str, ...] = ()  # area codes; empty with role admin means everywhere
    name: str = ""


class Violation(EventModel):
    """One broken rule: stable machine code plus messages in Indonesian and English."""

    code: str
    severity: Severity
    pesan: str  # Indonesian
    message: str  # English
    field: str | None = None


class SubmissionReceived(EventModel):
    """A form as the intake accepted it (topic submissions.received.v1)."""

    type: Literal["submission.received"] = "submission.received"
    submission_id: uuid.UUID
    received_at: datetime
    channel: Channel
    operator: OperatorRef
    idempotency_key: str
    form: CHasil
    reply_to: str | None = None  # phone number for WhatsApp/SMS verdicts
    # When the intake handed the record to Kafka (its 202 follows Kafka's ack): the start of the
    # freshness histograms. Optional, so records written before it existed still decode.
    published_at: datetime | None = None


class ReviewDecided(EventModel):
    """A camat or admin decision on a TPS; sent on the received topic so replays redo it."""

    type: Literal["review.decided"] = "review.decided"
    decision_id: uuid.UUID
    decided_at: datetime
    reviewer: OperatorRef
    election: ElectionId
    contest: Contest
    tps: TpsCode
    # hold / release / reject: quarantine (services/screener holds, a camat or admin decides).
    action: Literal["accept_version", "verify", "hold", "release", "reject"]
    submission_id: uuid.UUID | None = None  # the version accepted (accept_version)
    note: str = ""


class SubmissionValidated(EventModel):
    """A form that passed every error rule (topic submissions.validated.v1)."""

    type: Literal["submission.validated"] = "submission.validated"
    submission: SubmissionReceived
    warnings: tuple[Violation, ...] = ()
    validated_at: datetime


class SubmissionRejected(EventModel):
    """A form that broke at least one error rule (topic submissions.rejected.v1)."""

    type: Literal["submission.rejected"] = "submission.rejected"
    submission: SubmissionReceived
    violations: tuple[Violation, ...]
    rejected_at: datetime


class DeadLetter(EventModel):
    """A record that could not be decoded (topic submissions.dlq.v1)."""

    type: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    partition: int
    offset: int
    error: str
    key: str | None
    original_b64: str
    failed_at: datetime


# Same bytes for the same TPS and contest always map to the same photo id (one photo).
PHOTO_NAMESPACE = uuid.UUID("9d1c2b7e-4f3a-4e8b-a7c1-2f6b0e5d9a13")


def photo_id_for(sha256: str, election: str, contest: str, tps: str) -> uuid.UUID:
    """Deterministic id of one photo attached to one TPS and contest."""
    return uuid.uuid5(PHOTO_NAMESPACE, f"{sha256}\n{election}\n{contest}\n{tps}")


class PhotoReceived(EventModel):
    """A C.Hasil photo stored in the blob store and linked to a TPS (topic photos.received.v1).

    Only the metadata travels on Kafka; the bytes are in the blob store under their SHA-256.
    """

    type: Literal["photo.received"] = "photo.received"
    photo_id: uuid.UUID
    received_at: datetime
    channel: Channel
    operator: OperatorRef
    election: ElectionId
    contest: Contest
    tps: TpsCode
    submission_id: uuid.UUID | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # the original as uploaded
    served_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # upright, without EXIF
    thumb_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    mime: str
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    size: int = Field(ge=1)
    phash: str = Field(pattern=r"^[0-9a-f]{16}$")
    taken_at: datetime | None = None  # EXIF capture time
    gps_lat: float | None = None  # EXIF GPS, kept for the desk, never served
    gps_lon: float | None = None
    caption: str = ""


ReceivedEvent = Annotated[SubmissionReceived | ReviewDecided, Field(discriminator="type")]
ValidatedEvent = Annotated[SubmissionValidated | ReviewDecided, Field(discriminator="type")]

received_adapter: TypeAdapter[SubmissionReceived | ReviewDecided] = TypeAdapter(ReceivedEvent)
validated_adapter: TypeAdapter[SubmissionValidated | ReviewDecided] = TypeAdapter(ValidatedEvent)


# Downstream of the validator (the aggregator) every form on the validated and rejected topics
# was already checked as a CHasil: these variants validate the whole event but keep the form as
# its JSON object, which such a consumer reads for figures and a canonical text anyway. Being
# subclasses, they follow every change to the models above. Building the CHasil again costs
# two to three times the rest of the decode (benchmarks/RESULTS.md, aggregator).
class SubmissionReceivedRawForm(SubmissionReceived):
    """A SubmissionReceived whose form stays a JSON object (already validated upstream)."""

    form: dict[str, Any]  # type: ignore[assignment]  # the same form, not rebuilt as a CHasil


class SubmissionValidatedRawForm(SubmissionValidated):
    """SubmissionValidated with its form kept as JSON."""

    submission: SubmissionReceivedRawForm


class SubmissionRejectedRawForm(SubmissionRejected):
    """SubmissionRejected with its form kept as JSON."""

    submission: SubmissionReceivedRawForm


ValidatedRawFormEvent = Annotated[
    SubmissionValidatedRawForm | ReviewDecided, Field(discriminator="type")
]
validated_raw_form_adapter: TypeAdapter[SubmissionValidatedRawForm | ReviewDecided] = TypeAdapter(
    ValidatedRawFormEvent
)


# Same (operator, idempotency key) always maps to the same incident id: a retried report is one.
INCIDENT_NAMESPACE = uuid.UUID("3e6f7a2c-8b1d-4c9e-a5f0-7d2e4b6c8a19")
AREA_CODE_PATTERN = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}(\.\d{3})?$"


def incident_id_for(operator_id: str, idempotency_key: str) -> uuid.UUID:
    """Deterministic incident id of one operator's idempotency key (message id, header)."""
    return uuid.uuid5(INCIDENT_NAMESPACE, f"{operator_id}\n{idempotency_key}")


def incident_update_id_for(actor_id: str, idempotency_key: str) -> uuid.UUID:
    """Deterministic id of a desk update (acknowledge, follow-up, close) on a retried click."""
    return uuid.uuid5(INCIDENT_NAMESPACE, f"update\n{actor_id}\n{idempotency_key}")


class IncidentReported(EventModel):
    """A laporan kejadian from the field (topic incidents.v1, keyed by incident id)."""

    type: Literal["incident.reported"] = "incident.reported"
    incident_id: uuid.UUID
    reported_at: datetime
    channel: Channel
    operator: OperatorRef
    idempotency_key: str
    area: str = Field(pattern=AREA_CODE_PATTERN)  # the TPS or the desa code reported
    category: IncidentCategory
    severity: IncidentSeverity
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    reply_to: str | None = None
    published_at: datetime | None = None


class IncidentUpdated(EventModel):
    """A camat's or admin's acknowledge, follow-up or close of an incident (incidents.v1)."""

    type: Literal["incident.updated"] = "incident.updated"
    update_id: uuid.UUID
    incident_id: uuid.UUID
    updated_at: datetime
    by: OperatorRef
    area: str = Field(pattern=AREA_CODE_PATTERN)  # the incident's area, for scope checks
    action: IncidentAction
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


IncidentEvent = Annotated[IncidentReported | IncidentUpdated, Field(discriminator="type")]
incident_adapter: TypeAdapter[IncidentReported | IncidentUpdated] = TypeAdapter(IncidentEvent)
