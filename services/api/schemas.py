"""Request and response models of the read API, named by role (...In for bodies, ...Public out)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ErrorDetail


class PublicModel(BaseModel):
    """Base of every response: field order is the JSON order."""

    model_config = ConfigDict(frozen=True)


class ErrorPublic(PublicModel):
    """Every error: a stable machine code, Indonesian and English messages."""

    code: str
    pesan: str
    message: str


class VoteLinePublic(PublicModel):
    """A column of the totals: 'c1' (paslon/candidate no. 1) or 'p3' (party no. 3)."""

    key: str
    nomor: int
    name: str
    short_name: str
    generated: bool = False


class ContestPublic(PublicModel):
    """A contest and its vote lines in ballot order."""

    contest: str
    name: str
    party_list: bool
    lines: list[VoteLinePublic]


class ElectionPublic(PublicModel):
    """An election, its contests, and the area the dashboard opens at."""

    id: str
    kind: str
    name: str
    date: date
    home_area: str
    top_areas: list[str]
    tps_total: int
    dpt_total: int
    contests: list[ContestPublic]
    last_activity_at: datetime | None = None  # when its totals last moved; None: no result yet


class ElectionListPublic(PublicModel):
    """Every loaded election, and the one the dashboard opens on."""

    elections: list[ElectionPublic]
    opening: str | None  # latest activity, else the one held today, else the first listed


class AreaPublic(PublicModel):
    """One node of the area tree."""

    code: str
    level: str
    name: str
    parent_code: str | None
    kind: str | None = None


class AreaChildPublic(AreaPublic):
    """A child area with the election's TPS and DPT below it."""

    tps_total: int = 0
    dpt_total: int = 0


class AreaNodePublic(PublicModel):
    """An area, the way up to the top and the way down one level."""

    area: AreaPublic
    breadcrumb: list[AreaPublic]
    children: list[AreaChildPublic]


class ProgressPublic(PublicModel):
    """How much of the roster has reported: TPS in / TPS total, DPT of those TPS / all DPT."""

    tps_reported: int
    tps_total: int
    tps_pct: float
    dpt_reported: int
    dpt_total: int
    dpt_pct: float


class LineTotalPublic(PublicModel):
    """Votes of one line in an area and its share of the valid votes."""

    key: str
    nomor: int
    name: str
    short_name: str
    votes: int
    pct: float


class ChildResultPublic(PublicModel):
    """One row of the drill-down table: a child area, or a TPS of a desa."""

    code: str
    name: str
    level: str
    votes: dict[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int
    progress: ProgressPublic
    updated_at: datetime | None
    status: str | None = None  # TPS rows: ok, disputed, verified; None when not reported
    version: int | None = None
    channel: str | None = None


class AreaResultPublic(PublicModel):
    """A contest's result at one area with the breakdown by child area (or TPS under a desa)."""

    election: str
    contest: str
    contest_name: str
    area: AreaPublic
    breadcrumb: list[AreaPublic]
    child_level: str | None
    lines: list[VoteLinePublic]
    totals: list[LineTotalPublic]
    suara_sah: int
    suara_tidak_sah: int
    jumlah_suara: int
    pengguna: int
    turnout_pct: float  # votes cast / DPT of the TPS that reported
    progress: ProgressPublic
    updated_at: datetime | None
    children: list[ChildResultPublic]


class TpsResultPublic(PublicModel):
    """The version of a TPS form counted in the totals."""

    submission_id: uuid.UUID
    votes: dict[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int | None
    dpt: int | None
    status: str
    version: int
    operator_id: str
    operator_name: str | None
    channel: str
    received_at: datetime
    updated_at: datetime


class SubmissionPublic(PublicModel):
    """One form sent for a TPS, with who sent it through which channel and what became of it."""

    submission_id: uuid.UUID
    operator_id: str
    operator_name: str | None
    channel: str
    received_at: datetime
    status: str
    counted: bool  # the version in the totals now
    votes: dict[str, int]
    suara_sah: int | None
    suara_tidak_sah: int | None
    form: dict[str, Any]
    violations: list[dict[str, Any]]


class VersionPublic(PublicModel):
    """One step of the TPS's decision trail (new, revision, conflict, duplicate, review)."""

    id: int
    version: int | None
    submission_id: uuid.UUID
    decision: str
    operator_id: str
    operator_name: str | None
    channel: str | None
    votes: dict[str, int] | None
    note: str
    at: datetime


class DecisionPublic(PublicModel):
    """A camat's or admin's decision as the aggregator applied it."""

    decision_id: uuid.UUID
    reviewer_id: str
    reviewer_name: str | None
    reviewer_role: str
    action: str
    submission_id: uuid.UUID | None
    note: str
    decided_at: datetime
    applied_at: datetime


class AnomalyPublic(PublicModel):
    """Something a person should look at, with where it happened."""

    id: int
    contest: str
    tps: str
    desa: str | None
    kecamatan: str | None
    code: str
    severity: str
    detail: dict[str, Any]
    submission_id: uuid.UUID | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class TpsDetailPublic(PublicModel):
    """One contest at one TPS: roster facts, the counted version, every version and decision."""

    election: str
    contest: str
    contest_name: str
    tps: str
    number: int
    dpt: int
    special: bool
    breadcrumb: list[AreaPublic]
    lines: list[VoteLinePublic]
    result: TpsResultPublic | None
    submissions: list[SubmissionPublic]
    versions: list[VersionPublic]
    decisions: list[DecisionPublic]
    anomalies: list[AnomalyPublic]
    in_sample: bool = False  # in the election's current quick-count sample


class RivalPublic(PublicModel):
    """A competing version of a disputed TPS."""

    submission_id: uuid.UUID
    operator_id: str
    channel: str
    received_at: datetime
    status: str
    votes: dict[str, int]
    suara_sah: int | None


class ConflictPublic(PublicModel):
    """A disputed TPS: the counted version and its rivals."""

    contest: str
    tps: str
    desa: str | None
    kecamatan: str | None
    submission_id: uuid.UUID
    votes: dict[str, int]
    suara_sah: int
    operator_id: str
    channel: str
    received_at: datetime
    updated_at: datetime
    rivals: list[RivalPublic]


class ConflictListPublic(PublicModel):
    """Disputed TPS, newest first."""

    election: str
    conflicts: list[ConflictPublic]


class AnomalyListPublic(PublicModel):
    """Anomalies, newest first."""

    election: str
    anomalies: list[AnomalyPublic]


class AcceptIn(BaseModel):
    """Body of 'accept this version of a disputed TPS'."""

    model_config = ConfigDict(extra="forbid")

    submission_id: uuid.UUID
    note: str = Field(default="", max_length=1000)


class VerifyIn(BaseModel):
    """Body of 'mark this TPS verified'."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000)


class ReviewQueuedPublic(PublicModel):
    """A decision Kafka acknowledged; it shows in the TPS history once the aggregator applied it."""

    decision_id: uuid.UUID
    action: Literal["accept_version", "verify", "release", "reject"]
    status: Literal["queued"] = "queued"
    pesan: str
    message: str


class WhoAmIPublic(PublicModel):
    """The bearer of the token, as the api sees them."""

    id: str
    name: str
    role: str
    scope: list[str]
    can_review: bool
    expires_at: datetime


# --- quick count (GET /v1/quickcount) -----------------------------------------------------------


class QuickCountFigure(PublicModel):
    """An estimated share (or turnout) with its SE and 95%/99% intervals, as fractions."""

    key: str
    name: str
    share: float
    se: float
    margin95: float
    low95: float
    high95: float
    low99: float
    high99: float


class QuickCountLead(PublicModel):
    """The top two and their difference; decided only when its interval excludes zero."""

    leader: str
    runner_up: str
    difference: float
    se: float
    low95: float
    high95: float
    decided95: bool
    decided99: bool


class QuickCountEstimate(PublicModel):
    """One estimate: from the sample (stratified_ratio) or every report (post_stratified)."""

    method: str
    reports: int
    lines: list[QuickCountFigure]
    turnout: QuickCountFigure
    lead: QuickCountLead | None
    merged_groups: list[list[str]]  # strata estimated together by the merge rule
    strata_without_reports: list[str]
    sentence: str  # one Indonesian sentence for the dashboard
    raw_shares: dict[str, float] | None  # the raw running total, for the partial count only


class QuickCountStratum(PublicModel):
    """Progress of one stratum (kecamatan)."""

    code: str
    name: str
    tps_total: int
    dpt: int
    tps_reported: int
    sample_drawn: int
    sample_reported: int


class QuickCountProgress(PublicModel):
    """How far the sample and the count are, overall and per stratum."""

    sample_drawn: int
    sample_reported: int
    tps_total: int
    tps_reported: int
    strata: list[QuickCountStratum]


class QuickCountSample(PublicModel):
    """The election's current sample; forced when it was drawn after results arrived."""

    id: int
    seed: int
    size: int
    drawn_at: datetime
    forced: bool
    results_at_draw: int
    reason: str


class QuickCountMethod(PublicModel):
    """The method and its parameters, so the figures can be checked."""

    estimator: str
    strata: str
    weights: str
    finite_population_correction: bool
    confidence: list[float]
    min_reports_per_stratum: int
    merge_rule: str


class QuickCountPublic(PublicModel):
    """The quick count of a contest at an area: progress, and estimates once released."""

    election: str
    contest: str
    area: str
    area_name: str
    computed_at: datetime
    release_at: datetime
    released: bool
    banner: str | None  # admins before the release moment: not for release
    method: QuickCountMethod
    sample: QuickCountSample | None
    progress: QuickCountProgress
    quick_count: QuickCountEstimate | None
    partial_count: QuickCountEstimate | None


class InvalidRequestPublic(ErrorPublic):
    """422: the request's parameters or body do not fit the documented shape."""

    details: list[ErrorDetail] = []


_ERROR_TEXTS = {
    400: "The body could not be read (BODY_UNREADABLE: not JSON)",
    401: "No token, or a bad, expired or revoked token",
    403: "The token's role or area scope does not allow this",
    404: "Unknown election, contest, area or TPS",
    409: "The decision does not fit the TPS's current state",
    413: "Too many rows; choose a smaller area",
    422: "Parameters or body not valid (TPS_CODE_INVALID: not a TPS code)",
    503: "The database (or Kafka, for decisions) cannot be reached; see Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route, each in the bilingual shape."""
    return {
        status: {
            "model": InvalidRequestPublic if status == 422 else ErrorPublic,
            "description": _ERROR_TEXTS[status],
        }
        for status in statuses
    }


# Every /v1 read: a token is needed, names in the path may be unknown, the database may be away.
READ_ERRORS = error_responses(401, 404, 422, 503)
