"""Aggregation math: decide each event of a batch against its TPS's result and sum the deltas."""

from __future__ import annotations

import hashlib
import operator
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson

from shared.events import (
    ReviewDecided,
    Role,
    SubmissionReceived,
    SubmissionReceivedRawForm,
    Violation,
)
from shared.form import PARTY_LIST_CONTESTS
from shared.policy import REVIEW_ROLES
from shared.roster import ancestors_of

Key = tuple[str, str, str]  # election, contest, tps
AreaKey = tuple[str, str, str]  # election, contest, area_code
LineKey = tuple[str, str, str, str]  # election, contest, area_code, candidate line ('c1', 'p3')
# Vote deltas of one area by line number (3 for 'c3' or 'p3'); a line absent here did not move.
LineDeltas = dict[int, int]

# _HOT: classes made once or more per form are not frozen: a frozen dataclass sets each field
# through object.__setattr__, about 1 us per object, several per form. Never mutate them;
# unsafe_hash keeps them hashable by value as frozen ones were.

# Senders whose later form replaces the counted one whoever sent that: the reviewers.
REVISERS = REVIEW_ROLES


class Decision(StrEnum):
    """What the aggregator did with one event; the first five are tps_result_versions decisions."""

    NEW = "new"
    DUPLICATE = "duplicate"
    REVISION = "revision"
    CONFLICT = "conflict"
    REVIEW = "review"
    REPEAT = "repeat"  # the same submission or decision id again: dropped, nothing written
    REJECTED = "rejected"  # recorded from the rejected topic, never counted
    REVIEW_IGNORED = "review_ignored"  # a decision that cannot apply; raised as an anomaly
    UNKNOWN_ELECTION = "unknown_election"  # no such election in the database: nothing to write


class ResultStatus(StrEnum):
    """tps_results.status."""

    OK = "ok"
    DISPUTED = "disputed"
    VERIFIED = "verified"


class Hold(StrEnum):
    """tps_results.hold: whether the counted numbers are in the totals (quarantine)."""

    NONE = ""  # counted in the totals
    HELD = "held"  # out of the totals until a camat or admin releases or rejects it
    REJECTED = "rejected"  # out of the totals until the TPS sends a new form


QUARANTINE_ACTIONS = frozenset({"hold", "release", "reject"})


class SubmissionStatus(StrEnum):
    """submissions.status as the aggregator sets it."""

    ACCEPTED = "accepted"  # counted: the first form of the TPS, or a version a reviewer accepted
    REVISION = "revision"  # counted, replacing an earlier version
    DUPLICATE = "duplicate"  # nothing new: the counted form again, or the same numbers
    CONFLICT = "conflict"  # other numbers from another operator: waits for review
    SUPERSEDED = "superseded"  # once counted or in conflict, replaced by a later decision
    REJECTED = "rejected"  # broke an error rule (validator)


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class Numbers:
    """The figures of one form that feed the totals."""

    votes: Mapping[str, int]  # CHasil.votes_by_candidate()
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int | None  # I.B.4 when section I was sent
    dpt: int | None  # I.A as written, when section I was sent

    @property
    def voters(self) -> int:
        """Voters who voted: I.B.4, or valid plus invalid (equal by rule 3) without section I."""
        if self.pengguna is not None:
            return self.pengguna
        return self.suara_sah + self.suara_tidak_sah


NO_NUMBERS = Numbers(votes={}, suara_sah=0, suara_tidak_sah=0, pengguna=None, dpt=None)


class UndecodableEvent(ValueError):
    """An event whose JSON lacks a field the aggregator needs, or has it of the wrong type."""


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise UndecodableEvent(f"expected a count, got {value!r}")
    return value


def line_prefix(contest: str) -> str:
    """'p' for the party lines of party-list contests (DPR, DPRD), else 'c' (candidates)."""
    return "p" if contest in PARTY_LIST_CONTESTS else "c"


_by_party_number = operator.itemgetter("nomor_partai")
# Line name -> number ('p12' -> 12), looked up instead of parsed for every line of every desa.
_LINE_NUMBERS = {f"{kind}{n}": n for kind in "cp" for n in range(1000)}


# Line names by number, built once: formatting 'p12' for every line of every form showed.
_PARTY_LINES = tuple(f"p{n}" for n in range(1000))
_CANDIDATE_LINES = {str(n): f"c{n}" for n in range(1000)}


def numbers_of(form: Mapping[str, Any]) -> Numbers:
    """The counted figures of a form in its JSON shape (CHasil.model_dump(mode="json"))."""
    parties = form.get("suara_partai")
    votes: dict[str, int] = {}
    # The checks of _count inlined: a call per vote line was a third of this function.
    if parties is not None:
        for party in parties:
            number = party["nomor_partai"]
            jumlah = party["jumlah"]
            if type(number) is not int or type(jumlah) is not int or number < 0 or jumlah < 0:
                raise UndecodableEvent(f"expected counts, got {number!r}: {jumlah!r}")
            votes[_PARTY_LINES[number] if number < 1000 else f"p{number}"] = jumlah
    else:
        for no, count in form["suara_calon"].items():
            if type(count) is not int or count < 0:
                raise UndecodableEvent(f"expected a count, got {count!r}")
            votes[_CANDIDATE_LINES.get(no) or f"c{int(no)}"] = count
    pemilih = form.get("pemilih")
    return Numbers(
        votes=votes,
        suara_sah=_count(form["suara_sah"]),
        suara_tidak_sah=_count(form["suara_tidak_sah"]),
        pengguna=_count(pemilih["pengguna_total"]["jumlah"]) if pemilih is not None else None,
        dpt=_count(pemilih["dpt"]["jumlah"]) if pemilih is not None else None,
    )


def canonical_form_json(form: Mapping[str, Any]) -> str:
    """The form's JSON with sorted keys and parties by number: equal forms give equal text."""
    parties = form.get("suara_partai")
    if parties is not None:
        form = {**form, "suara_partai": sorted(parties, key=_by_party_number)}
    return orjson.dumps(form, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class Version:
    """One submitted form of a TPS and contest, as far as counting it goes."""

    submission_id: UUID
    numbers: Numbers
    digest: str  # sha256 of the canonical form JSON
    operator_id: str
    channel: str
    received_at: datetime
    # The intake's publish time (SubmissionReceived.published_at): only for the freshness metric.
    published_at: datetime | None = field(default=None, compare=False, repr=False)
    # Formatted once: the COPY lines of submissions, tps_results and the history each use them.
    id_text: str = field(init=False, compare=False, repr=False)
    at_text: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.id_text = str(self.submission_id)
        self.at_text = self.received_at.isoformat()


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class Submission:
    """A submitted form as the aggregator counts and stores it."""

    key: Key
    version: Version
    operator_role: Role
    idempotency_key: str
    form_json: str  # canonical JSON of the CHasil, stored in submissions.form

    @property
    def submission_id(self) -> UUID:
        """The submission's id (uuid5 of operator and idempotency key)."""
        return self.version.submission_id


def submission_from_event(sub: SubmissionReceivedRawForm) -> Submission:
    """The aggregator's view of a decoded submission (shared.events; form kept as JSON).

    Ids, times, operator and channel come validated by the model; the form, validated as a
    CHasil by the validator, is read in its JSON shape as for the forms stored in PostgreSQL:
    its canonical text and digest must stay byte-identical to the digests already stored.
    """
    form = sub.form
    try:
        # Area vectors are indexed by line number alone; the letter follows from the contest
        # (CHasil enforces it: party-list contests carry suara_partai, the rest suara_calon).
        if (form.get("suara_partai") is not None) != (form["contest"] in PARTY_LIST_CONTESTS):
            raise UndecodableEvent(f"{form['contest']}: vote lines of the other contest kind")
        form_json = canonical_form_json(form)
        version = Version(
            submission_id=sub.submission_id,
            numbers=numbers_of(form),
            digest=hashlib.sha256(form_json.encode()).hexdigest(),
            operator_id=sub.operator.id,
            channel=sub.channel.value,
            received_at=sub.received_at,
            published_at=sub.published_at,
        )
        key = (str(form["election"]), str(form["contest"]), str(form["tps"]))
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise UndecodableEvent(f"not a submission: {error!r}") from error
    return Submission(
        key=key,
        version=version,
        operator_role=sub.operator.role,
        idempotency_key=sub.idempotency_key,
        form_json=form_json,
    )


def submission_of(sub: SubmissionReceived) -> Submission:
    """The aggregator's view of a submission model (what decoding its JSON gives)."""
    return submission_from_event(
        SubmissionReceivedRawForm.model_validate(
            {**sub.model_dump(exclude={"form"}), "form": sub.form.model_dump(mode="json")}
        )
    )


def areas_above(tps: str) -> tuple[str, ...]:
    """desa, kecamatan, kabko, provinsi of a TPS (shared.roster.ancestors_of, by slicing)."""
    # Dotted Kemendagri codes have fixed widths (16.07.01.1016.001), which the intake enforces;
    # slicing them is several times faster than splitting, on every form of every batch.
    if len(tps) == 17 and tps[2] == tps[5] == tps[8] == tps[13] == ".":
        return (tps[:13], tps[:8], tps[:5], tps[:2])
    return ancestors_of(tps)


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class TpsResult:
    """The current result of one contest at one TPS (a tps_results row)."""

    key: Key
    counted: Version
    status: ResultStatus
    version: int  # bumped whenever the counted form changes
    open_conflicts: tuple[UUID, ...] = ()  # submissions in status conflict, oldest first
    hold: Hold = Hold.NONE

    @property
    def in_totals(self) -> Numbers:
        """What this result adds to the totals: its counted numbers, or nothing while held."""
        return self.counted.numbers if self.hold is Hold.NONE else NO_NUMBERS


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    """A submission already in the database that a review decision may accept."""

    key: Key
    version: Version
    status: str


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class Position:
    """Where an event was read: the submissions row keeps partition and offset."""

    topic: str
    partition: int
    offset: int


class LostCommits(RuntimeError):
    """PostgreSQL holds offsets below ones this process committed: committed batches were lost."""


def lost_offsets(
    stored: Mapping[tuple[str, int], int], known: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], tuple[int, int]]:
    """Partitions whose stored next offset is below the one this process last saw stored.

    Stored offsets only move forward (another instance's batch can only move them further), so
    a partition found behind lost commits this process was told had succeeded: an asynchronous
    commit that a PostgreSQL crash took with it (docs/decisions/0006). Maps each such partition
    to (stored, known); empty when nothing was lost.
    """
    return {
        tp: (stored[tp], offset)
        for tp, offset in known.items()
        if tp in stored and stored[tp] < offset
    }


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class FormIn:
    """A validated form."""

    submission: Submission
    warnings: tuple[Violation, ...] = ()
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class RejectedIn:
    """A rejected form: recorded with its violations, never counted."""

    submission: Submission
    violations: tuple[Violation, ...]
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class ReviewIn:
    """A review decision by a camat or admin."""

    review: ReviewDecided
    position: Position | None = None


Incoming = FormIn | RejectedIn | ReviewIn


@dataclass(frozen=True, slots=True)
class BatchState:
    """What the database knows about a batch's keys and ids before the batch."""

    elections: frozenset[str]
    results: Mapping[Key, TpsResult] = field(default_factory=dict)
    seen: Mapping[UUID, str] = field(default_factory=dict)  # submission id -> stored status
    reviews_applied: frozenset[UUID] = frozenset()
    stored: Mapping[UUID, StoredSubmission] = field(default_factory=dict)  # accept_version targets
    roster_dpt: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (election, tps)


@dataclass(slots=True)
class SubmissionRow:
    """A submissions row to insert (or to overwrite a rejected one with)."""

    submission: Submission
    status: SubmissionStatus
    violations: tuple[Violation, ...]
    position: Position | None


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: see _HOT
class HistoryRow:
    """A tps_result_versions row."""

    key: Key
    version: int | None
    submission_id: UUID
    decision: Decision
    operator_id: str
    channel: str | None
    votes: Mapping[str, int] | None
    note: str
    at: datetime
    id_text: str = field(default="", compare=False, repr=False)  # str(submission_id)
    at_text: str = field(default="", compare=False, repr=False)  # at.isoformat()


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    """An anomalies row: warnings of counted forms, review decisions that could not apply."""

    key: Key
    code: str
    severity: str
    detail: Mapping[str, Any]
    submission_id: UUID | None
    resolved_at: datetime | None = None  # set when a verify decision later in the batch saw it
    resolved_by: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A verify decision resolving the open anomalies earlier batches stored for its TPS."""

    key: Key
    at: datetime  # the decision's decided_at
    by: str  # the reviewer's id


@dataclass(slots=True)
class SummaryDelta:
    """What a batch adds to one area_summary row."""

    suara_sah: int = 0
    suara_tidak_sah: int = 0
    pengguna: int = 0
    tps_reported: int = 0
    dpt_reported: int = 0

    def add(self, other: SummaryDelta) -> None:
        """Add another delta to this one."""
        self.suara_sah += other.suara_sah
        self.suara_tidak_sah += other.suara_tidak_sah
        self.pengguna += other.pengguna
        self.tps_reported += other.tps_reported
        self.dpt_reported += other.dpt_reported

    def is_zero(self) -> bool:
        """True when adding this changes nothing."""
        return not (
            self.suara_sah
            or self.suara_tidak_sah
            or self.pengguna
            or self.tps_reported
            or self.dpt_reported
        )


@dataclass(slots=True)
class BatchOutcome:
    """Everything one batch writes, in the shape of the tables."""

    submissions: list[SubmissionRow] = field(default_factory=list)
    status_updates: dict[UUID, SubmissionStatus] = field(default_factory=dict)  # rows in the DB
    results: dict[Key, TpsResult] = field(default_factory=dict)  # final rows of changed keys
    history: list[HistoryRow] = field(default_factory=list)
    reviews: list[ReviewDecided] = field(default_factory=list)
    anomalies: list[AnomalyRow] = field(default_factory=list)
    # Per key, the batch's first applied verify: it resolves the anomalies stored before the
    # batch (the batch's own rows it saw are resolved in `anomalies` already).
    resolutions: dict[Key, Resolution] = field(default_factory=dict)
    votes: dict[AreaKey, LineDeltas] = field(default_factory=dict)  # nonzero line deltas
    summaries: dict[AreaKey, SummaryDelta] = field(default_factory=dict)
    decisions: Counter[str] = field(default_factory=Counter)

    @property
    def totals(self) -> dict[LineKey, int]:
        """The vote deltas as one entry per area and candidate line ('c1', 'p3')."""
        return {
            (election, contest, area, f"{line_prefix(contest)}{number}"): delta
            for (election, contest, area), lines in self.votes.items()
            for number, delta in lines.items()
        }


# Codes of review decisions that cannot apply, with their messages (Indonesian, English).
REVIEW_PROBLEMS: dict[str, tuple[str, str]] = {
    "REVIEW_ROLE": (
        "Keputusan verifikasi hanya boleh dari camat atau admin",
        "Review decisions may only come from a camat or an admin",
    ),
    "REVIEW_NO_RESULT": (
        "Belum ada hasil TPS yang dapat diverifikasi",
        "There is no TPS result to review yet",
    ),
    "REVIEW_VERSION_UNKNOWN": (
        "Versi yang dipilih bukan kiriman sah untuk TPS dan jenis pemilihan ini",
        "The chosen version is not a valid submission for this TPS and contest",
    ),
}


class _Batch:
    """Working state of one batch: the results it changed and the rows it will write."""

    def __init__(self, state: BatchState) -> None:
        self.state = state
        self.out = BatchOutcome()
        self.results: dict[Key, TpsResult | None] = {}
        self.seen: dict[UUID, str] = {}
        self.rows: dict[UUID, SubmissionRow] = {}
        self.versions: dict[UUID, tuple[Key, Version]] = {}
        self.reviews_applied: set[UUID] = set()
        # Indexes in out.anomalies of this batch's rows no verify has resolved yet, per key.
        self.open_anomalies: dict[Key, list[int]] = {}
        # Deltas per (election, contest, the areas of one desa), rolled up in finish().
        self.lines: dict[tuple[str, str, tuple[str, ...]], dict[str, int]] = {}
        self.summaries: dict[tuple[str, str, tuple[str, ...]], SummaryDelta] = {}

    def current(self, key: Key) -> TpsResult | None:
        if key in self.results:
            return self.results[key]
        return self.state.results.get(key)

    def seen_status(self, submission_id: UUID) -> str | None:
        status = self.seen.get(submission_id)
        return status if status is not None else self.state.seen.get(submission_id)

    def set_status(self, submission_id: UUID, status: SubmissionStatus) -> None:
        row = self.rows.get(submission_id)
        if row is not None:
            row.status = status
        else:
            self.out.status_updates[submission_id] = status

    def put(self, result: TpsResult) -> None:
        self.results[result.key] = result
        self.out.results[result.key] = result

    def move(self, key: Key, old: Numbers | None, new: Numbers) -> None:
        """Add the difference between two counted versions to the TPS's desa (see finish)."""
        election, contest, tps = key
        place = (election, contest, areas_above(tps))
        lines = self.lines.get(place)
        if lines is None:
            # The desa's first form of the batch: a copy made in C (at national scale, most).
            lines = self.lines[place] = dict(new.votes)
        else:
            for line, votes in new.votes.items():
                lines[line] = lines.get(line, 0) + votes
        summary = self.summaries.get(place)
        if summary is None:
            summary = self.summaries[place] = SummaryDelta()
        summary.suara_sah += new.suara_sah
        summary.suara_tidak_sah += new.suara_tidak_sah
        summary.pengguna += new.voters
        if old is None:
            summary.tps_reported += 1
            summary.dpt_reported += self.state.roster_dpt.get((election, tps), new.dpt or 0)
        else:
            for line, votes in old.votes.items():
                lines[line] = lines.get(line, 0) - votes
            summary.suara_sah -= old.suara_sah
            summary.suara_tidak_sah -= old.suara_tidak_sah
            summary.pengguna -= old.voters

    def raise_anomaly(self, row: AnomalyRow) -> None:
        self.open_anomalies.setdefault(row.key, []).append(len(self.out.anomalies))
        self.out.anomalies.append(row)

    def resolve_anomalies(self, key: Key, at: datetime, by: str) -> None:
        """Resolve the key's anomalies raised before this point of the log, here or earlier."""
        anomalies = self.out.anomalies
        for index in self.open_anomalies.pop(key, ()):
            anomalies[index] = replace(anomalies[index], resolved_at=at, resolved_by=by)
        # Rows stored by earlier batches: the first verify of the batch resolves them all, so
        # a later one would find none open.
        if key not in self.out.resolutions:
            self.out.resolutions[key] = Resolution(key, at, by)

    def close_conflicts(self, result: TpsResult, keep: UUID | None = None) -> None:
        for submission_id in result.open_conflicts:
            if submission_id != keep:
                self.set_status(submission_id, SubmissionStatus.SUPERSEDED)

    def history(
        self,
        key: Key,
        decision: Decision,
        version: int | None,
        counted: Version,
        *,
        operator_id: str | None = None,
        votes: bool = True,
        note: str = "",
        at: datetime | None = None,
    ) -> None:
        self.out.history.append(
            HistoryRow(
                key=key,
                version=version,
                submission_id=counted.submission_id,
                decision=decision,
                operator_id=operator_id or counted.operator_id,
                channel=counted.channel if operator_id is None else None,
                votes=counted.numbers.votes if votes else None,
                note=note,
                at=at or counted.received_at,
                id_text=counted.id_text,
                at_text=counted.at_text if at is None else at.isoformat(),
            )
        )

    def form(self, event: FormIn) -> None:
        sub = event.submission
        key = sub.key
        if key[0] not in self.state.elections:
            self.out.decisions[Decision.UNKNOWN_ELECTION] += 1
            return
        prior = self.seen_status(sub.submission_id)
        if prior is not None and prior != SubmissionStatus.REJECTED:
            self.out.decisions[Decision.REPEAT] += 1
            return
        if sub.submission_id in self.rows:
            # Rejected earlier in this batch, validated now: one row, with the last verdict.
            self.out.submissions.remove(self.rows[sub.submission_id])
        new = sub.version
        current = self.current(key)
        row = SubmissionRow(sub, SubmissionStatus.ACCEPTED, event.warnings, event.position)
        self.rows[sub.submission_id] = row
        self.out.submissions.append(row)
        self.versions[sub.submission_id] = (key, new)
        for warning in event.warnings:
            self.raise_anomaly(
                AnomalyRow(
                    key=key,
                    code=warning.code,
                    severity=warning.severity.value,
                    detail=warning.model_dump(mode="json"),
                    submission_id=sub.submission_id,
                )
            )
        if current is None:
            decision = Decision.NEW
            self.put(TpsResult(key, new, ResultStatus.OK, 1))
            self.move(key, None, new.numbers)
            self.history(key, decision, 1, new)
        elif current.counted.digest == new.digest:
            decision = Decision.DUPLICATE
            row.status = SubmissionStatus.DUPLICATE
            self.history(key, decision, None, new)
        elif new.operator_id == current.counted.operator_id or sub.operator_role in REVISERS:
            decision = Decision.REVISION
            row.status = SubmissionStatus.REVISION
            self.set_status(current.counted.submission_id, SubmissionStatus.SUPERSEDED)
            if sub.operator_role in REVISERS:
                # A camat's or admin's own form settles a dispute like a review decision does
                # (and a hold: they sent the numbers themselves).
                self.close_conflicts(current)
                result = TpsResult(key, new, ResultStatus.VERIFIED, current.version + 1)
            else:
                # The operator corrects their own form; a dispute with another operator stays.
                # A held TPS stays held; a rejected one counts again with its new form.
                disputed = current.status is ResultStatus.DISPUTED
                status = ResultStatus.DISPUTED if disputed else ResultStatus.OK
                hold = Hold.HELD if current.hold is Hold.HELD else Hold.NONE
                result = replace(
                    current, counted=new, status=status, version=current.version + 1, hold=hold
                )
            self.put(result)
            self.move(key, current.in_totals, result.in_totals)
            self.history(key, decision, current.version + 1, new)
        elif new.numbers == current.counted.numbers:
            # Another operator agrees on every counted figure: nothing to dispute.
            decision = Decision.DUPLICATE
            row.status = SubmissionStatus.DUPLICATE
            self.history(key, decision, None, new)
        else:
            decision = Decision.CONFLICT
            row.status = SubmissionStatus.CONFLICT
            self.put(
                replace(
                    current,
                    status=ResultStatus.DISPUTED,
                    open_conflicts=(*current.open_conflicts, sub.submission_id),
                )
            )
            self.history(key, decision, None, new)
        self.seen[sub.submission_id] = row.status
        self.out.decisions[decision] += 1

    def rejected(self, event: RejectedIn) -> None:
        sub = event.submission
        if sub.key[0] not in self.state.elections:
            self.out.decisions[Decision.UNKNOWN_ELECTION] += 1
            return
        if self.seen_status(sub.submission_id) is not None:
            self.out.decisions[Decision.REPEAT] += 1
            return
        row = SubmissionRow(sub, SubmissionStatus.REJECTED, event.violations, event.position)
        self.rows[sub.submission_id] = row
        self.out.submissions.append(row)
        self.seen[sub.submission_id] = SubmissionStatus.REJECTED
        self.out.decisions[Decision.REJECTED] += 1

    def target(self, review: ReviewDecided, key: Key) -> Version | None:
        """The version an accept_version decision names, if it is a counted-kind form of the key."""
        if review.submission_id is None:
            return None
        in_batch = self.versions.get(review.submission_id)
        if in_batch is not None:
            return in_batch[1] if in_batch[0] == key else None
        stored = self.state.stored.get(review.submission_id)
        if stored is None or stored.key != key or stored.status == SubmissionStatus.REJECTED:
            return None
        return stored.version

    def review(self, event: ReviewIn) -> None:
        review = event.review
        key: Key = (review.election, review.contest.value, review.tps)
        if review.election not in self.state.elections:
            self.out.decisions[Decision.UNKNOWN_ELECTION] += 1
            return
        if review.decision_id in self.reviews_applied or (
            review.decision_id in self.state.reviews_applied
        ):
            self.out.decisions[Decision.REPEAT] += 1
            return
        current = self.current(key)
        target = self.target(review, key) if review.action == "accept_version" else None
        problem = None
        if review.reviewer.role not in REVISERS:
            problem = "REVIEW_ROLE"
        elif current is None:
            problem = "REVIEW_NO_RESULT"
        elif review.action == "accept_version" and target is None:
            problem = "REVIEW_VERSION_UNKNOWN"
        if problem is not None:
            pesan, message = REVIEW_PROBLEMS[problem]
            self.raise_anomaly(
                AnomalyRow(
                    key=key,
                    code=problem,
                    severity="info",
                    detail={
                        "decision_id": str(review.decision_id),
                        "reviewer": review.reviewer.id,
                        "action": review.action,
                        "pesan": pesan,
                        "message": message,
                    },
                    submission_id=review.submission_id,
                )
            )
            self.out.decisions[Decision.REVIEW_IGNORED] += 1
            return
        assert current is not None  # REVIEW_NO_RESULT otherwise
        self.reviews_applied.add(review.decision_id)
        self.out.reviews.append(review)
        if review.action in QUARANTINE_ACTIONS:
            self.quarantine(key, current, review)
            self.out.decisions[Decision.REVIEW] += 1
            return
        self.close_conflicts(current, keep=target.submission_id if target else None)
        if review.action == "verify":
            # The camat checked the TPS: whatever was flagged before this decision in the log
            # is settled; a later form's warnings stay open. accept_version resolves none: the
            # aggregator raises no anomaly for a conflict (the conflicting submissions are
            # superseded above), and a form's own warnings are not what it decides.
            self.resolve_anomalies(key, review.decided_at, review.reviewer.id)
        if target is None or target.submission_id == current.counted.submission_id:
            self.put(replace(current, status=ResultStatus.VERIFIED, open_conflicts=()))
            self.history(
                key,
                Decision.REVIEW,
                current.version,
                current.counted,
                operator_id=review.reviewer.id,
                votes=False,
                note=review.note,
                at=review.decided_at,
            )
        else:
            self.set_status(current.counted.submission_id, SubmissionStatus.SUPERSEDED)
            self.set_status(target.submission_id, SubmissionStatus.ACCEPTED)
            self.put(TpsResult(key, target, ResultStatus.VERIFIED, current.version + 1))
            self.move(key, current.in_totals, target.numbers)
            self.history(
                key,
                Decision.REVIEW,
                current.version + 1,
                target,
                operator_id=review.reviewer.id,
                note=review.note,
                at=review.decided_at,
            )
        self.out.decisions[Decision.REVIEW] += 1

    def quarantine(self, key: Key, current: TpsResult, review: ReviewDecided) -> None:
        """hold: the counted numbers leave the totals; release: they return; reject: they stay
        out until the TPS sends a new form. The TPS stays reported (progress) throughout."""
        hold = {"hold": Hold.HELD, "release": Hold.NONE, "reject": Hold.REJECTED}[review.action]
        if review.action == "hold" and current.hold is Hold.REJECTED:
            hold = Hold.REJECTED  # already out; a hold does not reopen a rejection
        result = replace(current, hold=hold)
        if result.hold is not current.hold:
            self.put(result)
            self.move(key, current.in_totals, result.in_totals)
        self.history(
            key,
            Decision.REVIEW,
            current.version,
            current.counted,
            operator_id=review.reviewer.id,
            votes=False,
            note=f"{review.action}: {review.note}" if review.note else review.action,
            at=review.decided_at,
        )

    def finish(self) -> BatchOutcome:
        # Deltas were summed per desa; each desa's sum now goes to it and every area above it,
        # so a kabupaten row costs one addition per desa instead of one per form. An area that
        # only this desa moved shares the desa's dict (desa and kecamatan rows, mostly, at
        # national scale), so the repository formats that vector once; an area a second desa
        # adds to gets its own copy first.
        votes: dict[AreaKey, LineDeltas] = {}
        owned: set[AreaKey] = set()
        for (election, contest, areas), lines in self.lines.items():
            deltas = {
                _LINE_NUMBERS.get(line) or int(line[1:]): delta
                for line, delta in lines.items()
                if delta
            }
            if not deltas:
                continue
            for area in areas:
                area_key = (election, contest, area)
                acc = votes.get(area_key)
                if acc is None:
                    votes[area_key] = deltas
                    continue
                if area_key not in owned:
                    acc = votes[area_key] = dict(acc)
                    owned.add(area_key)
                for number, delta in deltas.items():
                    acc[number] = acc.get(number, 0) + delta
        summaries: dict[AreaKey, SummaryDelta] = {}
        for (election, contest, areas), desa_delta in self.summaries.items():
            for area in areas:
                summary = summaries.get((election, contest, area))
                if summary is None:
                    summary = summaries[(election, contest, area)] = SummaryDelta()
                summary.add(desa_delta)
        out = self.out
        for area_key, acc in votes.items():
            if area_key in owned and not all(acc.values()):
                acc = {n: d for n, d in acc.items() if d}
            if acc:
                out.votes[area_key] = acc
        out.summaries = {k: v for k, v in summaries.items() if not v.is_zero()}
        return out


def decide_batch(events: Iterable[Incoming], state: BatchState) -> BatchOutcome:
    """Decide every event in order and collect the rows and deltas the batch writes."""
    batch = _Batch(state)
    for event in events:
        if isinstance(event, FormIn):
            batch.form(event)
        elif isinstance(event, RejectedIn):
            batch.rejected(event)
        else:
            batch.review(event)
    return batch.finish()


def batch_keys(events: Sequence[Incoming]) -> set[Key]:
    """The tps_results keys a batch may read or change."""
    keys: set[Key] = set()
    for event in events:
        if isinstance(event, FormIn):
            keys.add(event.submission.key)
        elif isinstance(event, ReviewIn):
            review = event.review
            keys.add((review.election, review.contest.value, review.tps))
    return keys
