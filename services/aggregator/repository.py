"""The aggregator's SQL: each batch in one transaction with the Kafka offsets it consumed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import orjson
from pydantic import TypeAdapter

from services.aggregator.aggregation import (
    BatchOutcome,
    BatchState,
    FormIn,
    HistoryRow,
    Hold,
    Incoming,
    Key,
    LineDeltas,
    LostCommits,
    Numbers,
    RejectedIn,
    ResultStatus,
    ReviewIn,
    StoredSubmission,
    SubmissionRow,
    SummaryDelta,
    TpsResult,
    Version,
    batch_keys,
    canonical_form_json,
    decide_batch,
    lost_offsets,
    numbers_of,
)
from shared.events import Violation
from shared.notify import ElectionChange, ResultsChanged

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = ResultsChanged.CHANNEL
TopicPartition = tuple[str, int]
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn = asyncpg.Connection | PoolConnectionProxy[Any]
_violations_json: TypeAdapter[tuple[Violation, ...]] = TypeAdapter(tuple[Violation, ...])

# Locks (creating when missing) the offset rows of the batch's partitions and returns the stored
# next offsets. A second instance still holding the same partitions (a zombie after a rebalance)
# waits here and then skips what the first one already applied.
_LOCK_OFFSETS = """
INSERT INTO consumer_offsets AS o (consumer_group, topic, partition, next_offset)
SELECT $1, u.topic, u.partition, 0 FROM unnest($2::text[], $3::int[]) AS u(topic, partition)
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = o.next_offset
RETURNING topic, partition, next_offset
"""
_STORE_OFFSETS = """
UPDATE consumer_offsets o SET next_offset = u.next_offset, updated_at = now()
FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(topic, partition, next_offset)
WHERE o.consumer_group = $1 AND o.topic = u.topic AND o.partition = u.partition
  AND o.next_offset < u.next_offset
"""
_STORED_OFFSETS = """
SELECT topic, partition, next_offset FROM consumer_offsets
WHERE consumer_group = $1 AND topic = ANY($2::text[])
"""
_ELECTIONS = "SELECT id FROM elections"
_SEEN = """
SELECT submission_id AS id, status FROM submissions WHERE submission_id = ANY($1::uuid[])
UNION ALL
SELECT decision_id, 'review' FROM review_decisions WHERE decision_id = ANY($2::uuid[])
"""
# Current results of the batch's keys, the roster DPT of their TPS (for dpt_reported when new)
# and, for disputed ones, the submissions waiting in conflict.
_CURRENT = """
SELECT k.election, k.contest, k.tps, t.dpt AS roster_dpt, r.submission_id, r.votes,
       r.suara_sah, r.suara_tidak_sah, r.pengguna, r.dpt, r.status, r.version, r.operator_id,
       r.channel, r.received_at, r.form_digest, r.hold,
       CASE WHEN r.status = 'disputed' THEN ARRAY(
           SELECT s.submission_id FROM submissions s
           WHERE s.election = k.election AND s.contest = k.contest AND s.tps = k.tps
             AND s.status = 'conflict'
           ORDER BY s.received_at, s.submission_id) END AS open_conflicts
FROM unnest($1::text[], $2::text[], $3::text[]) AS k(election, contest, tps)
LEFT JOIN tps_results r ON r.election = k.election AND r.contest = k.contest AND r.tps = k.tps
LEFT JOIN tps t ON t.election = k.election AND t.code = k.tps
"""
_STORED_SUBMISSIONS = """
SELECT submission_id, election, contest, tps, operator_id, channel, received_at, status, form
FROM submissions WHERE submission_id = ANY($1::uuid[])
"""
# Rows travel as one JSON array of arrays per statement (serialised by orjson in one call)
# rather than one array parameter per column: asyncpg encodes text arrays element by element
# in Python, which cost more CPU than all the aggregation math. The parameter is text, so the
# connection's jsonb codec stays out of it. r->>n is column n of a row; jsonb columns arrive
# as nested JSON (r->n), parsed once with the parameter; the json column submissions.form as a
# string, so it keeps the canonical text the COPY stores.
_UPDATE_STATUS = """
UPDATE submissions s SET status = r->>1, updated_at = now()
FROM jsonb_array_elements($1::text::jsonb) r
WHERE s.submission_id = (r->>0)::uuid
"""
# A submission rejected before and validated now (the roster was fixed) takes the new verdict.
_INSERT_SUBMISSIONS = """
INSERT INTO submissions AS s (submission_id, election, contest, tps, operator_id, channel,
                              idempotency_key, received_at, status, form, violations,
                              kafka_partition, kafka_offset)
SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, (r->>7)::timestamptz, r->>8,
       (r->>9)::json, r->10, (r->>11)::int, (r->>12)::bigint
FROM jsonb_array_elements($1::text::jsonb) r
ON CONFLICT (submission_id) DO UPDATE
    SET status = EXCLUDED.status, form = EXCLUDED.form, violations = EXCLUDED.violations,
        kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset,
        updated_at = now()
    WHERE s.status = 'rejected'
"""
_UPSERT_RESULTS = """
INSERT INTO tps_results AS t (election, contest, tps, submission_id, votes, suara_sah,
                              suara_tidak_sah, pengguna, dpt, status, version, operator_id,
                              channel, received_at, form_digest, hold)
SELECT r->>0, r->>1, r->>2, (r->>3)::uuid, r->4, (r->>5)::int, (r->>6)::int, (r->>7)::int,
       (r->>8)::int, r->>9, (r->>10)::int, r->>11, r->>12, (r->>13)::timestamptz, r->>14,
       r->>15
FROM jsonb_array_elements($1::text::jsonb) r
ON CONFLICT (election, contest, tps) DO UPDATE
    SET submission_id = EXCLUDED.submission_id, votes = EXCLUDED.votes,
        suara_sah = EXCLUDED.suara_sah, suara_tidak_sah = EXCLUDED.suara_tidak_sah,
        pengguna = EXCLUDED.pengguna, dpt = EXCLUDED.dpt, status = EXCLUDED.status,
        version = EXCLUDED.version, operator_id = EXCLUDED.operator_id,
        channel = EXCLUDED.channel, received_at = EXCLUDED.received_at,
        form_digest = EXCLUDED.form_digest, hold = EXCLUDED.hold, updated_at = now()
"""
_INSERT_REVIEWS = """
INSERT INTO review_decisions (decision_id, election, contest, tps, reviewer_id, reviewer_role,
                              action, submission_id, note, decided_at)
SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, (r->>7)::uuid, r->>8,
       (r->>9)::timestamptz
FROM jsonb_array_elements($1::text::jsonb) r
ON CONFLICT (decision_id) DO NOTHING
"""
# One row per touched area: progress and vote sums, and the votes as a vector by line number
# (migration 0012). A NULL element of the delta leaves that line as it is (NULL: never moved).
# updated_at follows the sums and progress only, as when the votes had a table of their own.
_UPSERT_SUMMARY = """
INSERT INTO area_summary AS a (election, contest, area_code, shard, suara_sah, suara_tidak_sah,
                               pengguna, tps_reported, dpt_reported, votes)
SELECT r->>0, r->>1, r->>2, 0, (r->>3)::bigint, (r->>4)::bigint, (r->>5)::bigint,
       (r->>6)::int, (r->>7)::bigint, (r->>8)::bigint[]
FROM jsonb_array_elements($1::text::jsonb) r
ON CONFLICT (election, contest, area_code, shard) DO UPDATE
    SET suara_sah = a.suara_sah + EXCLUDED.suara_sah,
        suara_tidak_sah = a.suara_tidak_sah + EXCLUDED.suara_tidak_sah,
        pengguna = a.pengguna + EXCLUDED.pengguna,
        tps_reported = a.tps_reported + EXCLUDED.tps_reported,
        dpt_reported = a.dpt_reported + EXCLUDED.dpt_reported,
        votes = CASE WHEN EXCLUDED.votes IS NULL THEN a.votes
                     ELSE deskpemilu_add_votes(a.votes, EXCLUDED.votes) END,
        updated_at = CASE WHEN (EXCLUDED.suara_sah, EXCLUDED.suara_tidak_sah, EXCLUDED.pengguna,
                                EXCLUDED.tps_reported, EXCLUDED.dpt_reported) = (0, 0, 0, 0, 0)
                          THEN a.updated_at ELSE now() END
"""
_INSERT_ANOMALIES = """
INSERT INTO anomalies (election, contest, tps, code, severity, detail, submission_id,
                       resolved_at, resolved_by)
SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->5, (r->>6)::uuid, (r->>7)::timestamptz, r->>8
FROM jsonb_array_elements($1::text::jsonb) r
ON CONFLICT ON CONSTRAINT anomalies_once DO NOTHING
"""
# A verify decision resolves its TPS's open anomalies stored by earlier batches. It runs before
# the batch's own anomalies go in: those the decision saw come resolved already, and those of
# later forms stay open, so the rows follow the log order whatever the batching (a rebuild).
_RESOLVE_ANOMALIES = """
UPDATE anomalies a SET resolved_at = (r->>3)::timestamptz, resolved_by = r->>4
FROM jsonb_array_elements($1::text::jsonb) r
WHERE a.election = r->>0 AND a.contest = r->>1 AND a.tps = r->>2 AND a.resolved_at IS NULL
"""
_NOTIFY = "SELECT pg_notify($1, $2)"
_DISPUTED = "SELECT count(*) FROM tps_results WHERE status = 'disputed'"


@dataclass(frozen=True, slots=True)
class Applied:
    """What one batch transaction did."""

    outcome: BatchOutcome
    skipped: int  # records at offsets below the stored ones: applied before, left alone now
    offsets: dict[TopicPartition, int]  # the batch's partitions' next offsets as now stored


async def stored_offsets(
    conn: Conn, group: str, topics: Sequence[str]
) -> dict[TopicPartition, int]:
    """Next offsets stored for the group's partitions of these topics."""
    rows = await conn.fetch(_STORED_OFFSETS, group, list(topics))
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def set_offsets(conn: Conn, group: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Store next offsets for a group as given (rebuild: the aggregator resumes at these)."""
    await conn.executemany(
        """INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (consumer_group, topic, partition) DO UPDATE
               SET next_offset = EXCLUDED.next_offset, updated_at = now()""",
        [(group, topic, part, offset) for (topic, part), offset in sorted(offsets.items())],
    )


async def disputed_count(conn: Conn) -> int:
    """TPS results waiting for a review decision."""
    count: int = await conn.fetchval(_DISPUTED)
    return count


async def apply_batch(
    conn: Conn,
    *,
    group: str,
    events: Sequence[Incoming],
    next_offsets: Mapping[TopicPartition, int],
    known: Mapping[TopicPartition, int] | None = None,
) -> Applied:
    """Apply a batch and store its offsets in one transaction; events below stored offsets skip.

    next_offsets holds, per partition, the offset after the batch's last record (records that
    could not be decoded count too: they are consumed, not applied). known holds the offsets
    this process last saw stored; one stored lower now raises LostCommits and nothing is applied.
    """
    async with conn.transaction():
        partitions = sorted(next_offsets)
        rows = await conn.fetch(
            _LOCK_OFFSETS, group, [t for t, _ in partitions], [p for _, p in partitions]
        )
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        lost = lost_offsets(stored, known or {})
        if lost:
            behind = (f"{t}[{p}] {was} < {saw}" for (t, p), (was, saw) in sorted(lost.items()))
            raise LostCommits("stored offsets went back, commits lost: " + ", ".join(behind))
        fresh = [
            e
            for e in events
            if e.position is None
            or e.position.offset >= stored[(e.position.topic, e.position.partition)]
        ]
        outcome = BatchOutcome()
        if fresh:
            state = await _load_state(conn, fresh)
            outcome = decide_batch(fresh, state)
            await _write(conn, outcome, state)
        await conn.execute(
            _STORE_OFFSETS,
            group,
            [t for t, _ in partitions],
            [p for _, p in partitions],
            [next_offsets[tp] for tp in partitions],
        )
        if outcome.votes or outcome.summaries or outcome.results:
            await conn.execute(_NOTIFY, NOTIFY_CHANNEL, _notify_payload(outcome))
    return Applied(
        outcome=outcome,
        skipped=len(events) - len(fresh),
        offsets={tp: max(stored[tp], next_offsets[tp]) for tp in partitions},
    )


async def _load_state(conn: Conn, events: Sequence[Incoming]) -> BatchState:
    submission_ids = [
        e.submission.submission_id for e in events if isinstance(e, FormIn | RejectedIn)
    ]
    reviews = [e.review for e in events if isinstance(e, ReviewIn)]
    elections = frozenset(r["id"] for r in await conn.fetch(_ELECTIONS))
    seen: dict[UUID, str] = {}
    applied: set[UUID] = set()
    for row in await conn.fetch(_SEEN, submission_ids, [r.decision_id for r in reviews]):
        if row["status"] == "review":
            applied.add(row["id"])
        else:
            seen[row["id"]] = row["status"]
    keys = sorted(batch_keys(events))
    results: dict[Key, TpsResult] = {}
    roster_dpt: dict[tuple[str, str], int] = {}
    if keys:
        rows = await conn.fetch(
            _CURRENT, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
        )
        for row in rows:
            key = (row["election"], row["contest"], row["tps"])
            if row["roster_dpt"] is not None:
                roster_dpt[(key[0], key[2])] = row["roster_dpt"]
            if row["submission_id"] is not None:
                results[key] = _result_from_row(key, row)
    targets = [
        r.submission_id
        for r in reviews
        if r.action == "accept_version" and r.submission_id is not None
    ]
    stored: dict[UUID, StoredSubmission] = {}
    if targets:
        for row in await conn.fetch(_STORED_SUBMISSIONS, targets):
            stored[row["submission_id"]] = _stored_from_row(row)
    return BatchState(
        elections=elections,
        results=results,
        seen=seen,
        reviews_applied=frozenset(applied),
        stored=stored,
        roster_dpt=roster_dpt,
    )


def _result_from_row(key: Key, row: asyncpg.Record) -> TpsResult:
    counted = Version(
        submission_id=row["submission_id"],
        numbers=Numbers(
            votes=row["votes"],
            suara_sah=row["suara_sah"],
            suara_tidak_sah=row["suara_tidak_sah"],
            pengguna=row["pengguna"],
            dpt=row["dpt"],
        ),
        digest=row["form_digest"] or "",
        operator_id=row["operator_id"],
        channel=row["channel"],
        received_at=row["received_at"],
    )
    return TpsResult(
        key=key,
        counted=counted,
        status=ResultStatus(row["status"]),
        version=row["version"],
        open_conflicts=tuple(row["open_conflicts"] or ()),
        hold=Hold(row["hold"] or ""),
    )


def _stored_from_row(row: asyncpg.Record) -> StoredSubmission:
    form_json = canonical_form_json(row["form"])
    version = Version(
        submission_id=row["submission_id"],
        numbers=numbers_of(row["form"]),
        digest=hashlib.sha256(form_json.encode()).hexdigest(),
        operator_id=row["operator_id"],
        channel=row["channel"],
        received_at=row["received_at"],
    )
    return StoredSubmission(
        key=(row["election"], row["contest"], row["tps"]),
        version=version,
        status=row["status"],
    )


def _rows(rows: Iterable[Sequence[Any]]) -> str:
    # default=str: ids read back from PostgreSQL are asyncpg's own UUID type.
    return orjson.dumps(list(rows), default=str).decode()


def _c(value: str | None) -> str:
    """One column in COPY text format: backslash, tab and newlines escaped; None is NULL."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _n(value: int | None) -> str:
    """A number column in COPY text format."""
    return "\\N" if value is None else str(value)


# Rows per COPY data message: PostgreSQL parses one chunk while this process formats the next
# (each on its own CPU), instead of waiting for the whole batch's text.
COPY_CHUNK_ROWS = 100


def _chunks(lines: Iterable[str]) -> list[bytes]:
    """COPY text-format lines joined into chunks of COPY_CHUNK_ROWS rows."""
    chunks: list[bytes] = []
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == COPY_CHUNK_ROWS:
            chunks.append("".join(chunk).encode())
            chunk = []
    if chunk:
        chunks.append("".join(chunk).encode())
    return chunks


async def _copy_source(
    lines: Iterable[str], then: Callable[[], None] | None = None
) -> AsyncIterator[bytes]:
    """COPY text-format lines in chunks, formatted as they are sent; then `then()`.

    asyncpg takes bytes for a file name and reads file objects through a thread pool, hence
    an async iterator. `then` runs after the last chunk went out, while PostgreSQL still parses
    what the socket holds: Python work for later statements done in that shadow.
    """
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == COPY_CHUNK_ROWS:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()
    if then is not None:
        then()


async def _send(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


_SUBMISSION_COLUMNS = (
    "submission_id",
    "election",
    "contest",
    "tps",
    "operator_id",
    "channel",
    "idempotency_key",
    "received_at",
    "status",
    "form",
    "violations",
    "kafka_partition",
    "kafka_offset",
)
_RESULT_COLUMNS = (
    "election",
    "contest",
    "tps",
    "submission_id",
    "votes",
    "suara_sah",
    "suara_tidak_sah",
    "pengguna",
    "dpt",
    "status",
    "version",
    "operator_id",
    "channel",
    "received_at",
    "form_digest",
    "hold",
)
_HISTORY_COLUMNS = (
    "election",
    "contest",
    "tps",
    "version",
    "submission_id",
    "decision",
    "operator_id",
    "channel",
    "votes",
    "note",
    "at",
)
_NO_VIOLATIONS = "[]"


def _submission_row(r: SubmissionRow) -> tuple[Any, ...]:
    sub = r.submission
    version = sub.version
    return (
        sub.submission_id,
        *sub.key,
        version.operator_id,
        version.channel,
        sub.idempotency_key,
        version.received_at,
        r.status.value,
        sub.form_json,
        orjson.Fragment(_violations_json.dump_json(r.violations)),
        r.position.partition if r.position else None,
        r.position.offset if r.position else None,
    )


class _Texts:
    """COPY text of values several lines of a batch repeat: each key and vote dict once."""

    __slots__ = ("keys", "votes")

    def __init__(self) -> None:
        self.keys: dict[Key, str] = {}
        self.votes: dict[int, str] = {}  # id() of a votes mapping the batch outcome holds

    def key(self, key: Key) -> str:
        text = self.keys.get(key)
        if text is None:
            election, contest, tps = key
            text = self.keys[key] = f"{_c(election)}\t{_c(contest)}\t{_c(tps)}"
        return text

    def of_votes(self, votes: Mapping[str, int]) -> str:
        # A new result's history row holds the very dict of its tps_results row.
        text = self.votes.get(id(votes))
        if text is None:
            text = self.votes[id(votes)] = _c(orjson.dumps(votes).decode())
        return text


def _submission_line(r: SubmissionRow, texts: _Texts) -> str:
    sub = r.submission
    version = sub.version
    position = r.position
    violations = (
        _violations_json.dump_json(r.violations).decode() if r.violations else _NO_VIOLATIONS
    )
    return (
        f"{version.id_text}\t{texts.key(sub.key)}"
        f"\t{_c(version.operator_id)}\t{_c(version.channel)}\t{_c(sub.idempotency_key)}"
        f"\t{version.at_text}\t{r.status.value}\t{_c(sub.form_json)}"
        f"\t{_c(violations)}\t{_n(position.partition if position else None)}"
        f"\t{_n(position.offset if position else None)}\n"
    )


def _result_row(key: Key, r: TpsResult) -> tuple[Any, ...]:
    n = r.counted.numbers
    return (
        *key,
        r.counted.submission_id,
        n.votes,
        n.suara_sah,
        n.suara_tidak_sah,
        n.pengguna,
        n.dpt,
        r.status.value,
        r.version,
        r.counted.operator_id,
        r.counted.channel,
        r.counted.received_at,
        r.counted.digest,
        r.hold.value,
    )


def _result_line(key: Key, r: TpsResult, texts: _Texts) -> str:
    counted = r.counted
    n = counted.numbers
    return (
        f"{texts.key(key)}\t{counted.id_text}"
        f"\t{texts.of_votes(n.votes)}\t{n.suara_sah}\t{n.suara_tidak_sah}"
        f"\t{_n(n.pengguna)}\t{_n(n.dpt)}\t{r.status.value}\t{r.version}"
        f"\t{_c(counted.operator_id)}\t{_c(counted.channel)}"
        f"\t{counted.at_text}\t{_c(counted.digest)}\t{_c(r.hold.value)}\n"
    )


def _history_line(h: HistoryRow, texts: _Texts) -> str:
    votes = "\\N" if h.votes is None else texts.of_votes(h.votes)
    return (
        f"{texts.key(h.key)}\t{_n(h.version)}\t{h.id_text or h.submission_id}"
        f"\t{h.decision.value}\t{_c(h.operator_id)}\t{_c(h.channel)}\t{votes}"
        f"\t{_c(h.note)}\t{h.at_text or h.at.isoformat()}\n"
    )


@dataclass(slots=True)
class _Payloads:
    """What the statements after the submissions COPY send, formatted while it runs."""

    new_results: list[tuple[Key, TpsResult]]
    texts: _Texts
    results: list[bytes] | None = None
    history: list[bytes] | None = None
    areas: str | None = None

    def prepare(self, out: BatchOutcome) -> None:
        if self.results is not None:
            return
        texts = self.texts
        self.results = _chunks(_result_line(k, r, texts) for k, r in self.new_results)
        self.history = _chunks(_history_line(h, texts) for h in out.history)
        self.areas = _area_rows(out) if out.summaries or out.votes else None


async def _write(conn: Conn, out: BatchOutcome, state: BatchState) -> None:
    # Statement order is fixed and rows are sorted by primary key, so two instances sharing the
    # hot kabupaten and provinsi rows lock them in the same order and cannot deadlock.
    results = sorted(out.results.items())
    # A TPS key belongs to one validated partition, whose offset row this transaction holds
    # locked: a key without a stored result cannot appear meanwhile.
    texts = _Texts()
    payloads = _Payloads([(k, r) for k, r in results if k not in state.results], texts)
    if out.status_updates:
        updates = sorted(out.status_updates.items(), key=lambda item: item[0].int)
        await conn.execute(_UPDATE_STATUS, _rows((sid, status.value) for sid, status in updates))
    if out.submissions:
        rows = sorted(out.submissions, key=lambda r: r.submission.submission_id.int)
        # Rows never seen go in by COPY (several times cheaper than INSERT .. SELECT); a row
        # stored as rejected before takes the upsert that overwrites it.
        fresh = [r for r in rows if r.submission.submission_id not in state.seen]
        again = [r for r in rows if r.submission.submission_id in state.seen]
        if fresh:
            try:
                # A savepoint: another instance may store one of these ids from the other topic
                # (rejected vs validated) between our read and this COPY; then upsert them.
                async with conn.transaction():
                    await conn.copy_to_table(
                        "submissions",
                        source=_copy_source(
                            (_submission_line(r, texts) for r in fresh),
                            lambda: payloads.prepare(out),
                        ),
                        columns=_SUBMISSION_COLUMNS,
                    )
            except asyncpg.UniqueViolationError:
                again = rows
        if again:
            await conn.execute(_INSERT_SUBMISSIONS, _rows(map(_submission_row, again)))
    payloads.prepare(out)
    if payloads.results:
        await conn.copy_to_table(
            "tps_results", source=_send(payloads.results), columns=_RESULT_COLUMNS
        )
    changed = [(k, r) for k, r in results if k in state.results]
    if changed:
        await conn.execute(_UPSERT_RESULTS, _rows(_result_row(k, r) for k, r in changed))
    if payloads.history:
        # COPY keeps the order of the rows, so the identity ids follow the decisions.
        await conn.copy_to_table(
            "tps_result_versions", source=_send(payloads.history), columns=_HISTORY_COLUMNS
        )
    if out.reviews:
        await conn.execute(
            _INSERT_REVIEWS,
            _rows(
                (
                    r.decision_id,
                    r.election,
                    r.contest.value,
                    r.tps,
                    r.reviewer.id,
                    r.reviewer.role.value,
                    r.action,
                    r.submission_id,
                    r.note,
                    r.decided_at,
                )
                for r in out.reviews
            ),
        )
    if out.resolutions:
        await conn.execute(
            _RESOLVE_ANOMALIES,
            _rows((*key, r.at, r.by) for key, r in sorted(out.resolutions.items())),
        )
    if out.anomalies:
        await conn.execute(
            _INSERT_ANOMALIES,
            _rows(
                (
                    *a.key,
                    a.code,
                    a.severity,
                    a.detail,
                    a.submission_id,
                    a.resolved_at,
                    a.resolved_by,
                )
                for a in out.anomalies
            ),
        )
    if payloads.areas is not None:
        # Last: the area rows are the only rows concurrent transactions (another lane or
        # instance) share, and each holds their locks until it commits. Written last, a
        # transaction keeps the others waiting only for this statement and its commit.
        await conn.execute(_UPSERT_SUMMARY, payloads.areas)


def _area_rows(out: BatchOutcome) -> str:
    """area_summary rows of a batch: sums and progress, and the vote vector."""
    zero = SummaryDelta()
    # Areas moved by one desa only share that desa's deltas: format each dict once.
    vectors = {id(lines): _vector(lines) for lines in out.votes.values()}
    rows: list[tuple[Any, ...]] = []
    for k in sorted(out.summaries.keys() | out.votes.keys()):
        s = out.summaries.get(k, zero)
        lines = out.votes.get(k)
        v = None if lines is None else vectors[id(lines)]
        rows.append(
            (*k, s.suara_sah, s.suara_tidak_sah, s.pengguna, s.tps_reported, s.dpt_reported, v)
        )
    return _rows(rows)


def _vector(lines: LineDeltas) -> str:
    """A bigint[] literal with each delta at its line number, NULL where a line did not move."""
    slots: list[str] = ["NULL"] * max(lines)
    for number, delta in lines.items():
        slots[number - 1] = str(delta)
    return "{" + ",".join(slots) + "}"


def _notify_payload(out: BatchOutcome) -> str:
    contests: dict[str, set[str]] = {}
    for election, contest, _ in out.summaries:
        contests.setdefault(election, set()).add(contest)
    for election, contest, _ in out.results:
        contests.setdefault(election, set()).add(contest)
    return ResultsChanged(
        elections=tuple(
            ElectionChange(election=election, contests=tuple(sorted(names)))
            for election, names in sorted(contests.items())
        ),
        areas=len(out.summaries),
        tps=len(out.results),
        decisions={str(name): count for name, count in out.decisions.items()},
    ).model_dump_json()


# Rebuild: the projections go, the roster denominators (tps_total, dpt_total) stay.
_RESET = (
    "TRUNCATE submissions, tps_results, tps_result_versions, anomalies, review_decisions",
    "DELETE FROM area_summary WHERE shard <> 0 OR (tps_total = 0 AND dpt_total = 0)",
    """UPDATE area_summary SET suara_sah = 0, suara_tidak_sah = 0, pengguna = 0,
              tps_reported = 0, dpt_reported = 0, votes = NULL, updated_at = now()
       WHERE (suara_sah, suara_tidak_sah, pengguna, tps_reported, dpt_reported)
             <> (0, 0, 0, 0, 0) OR votes IS NOT NULL""",
)


async def reset_projections(conn: Conn, groups: Sequence[str]) -> None:
    """Empty every aggregator projection and forget the offsets of these consumer groups."""
    async with conn.transaction():
        for statement in _RESET:
            await conn.execute(statement)
        await conn.execute(
            "DELETE FROM consumer_offsets WHERE consumer_group = ANY($1::text[])", list(groups)
        )


# Running aggregators hold this advisory lock shared; a rebuild needs it exclusively, so it
# cannot run beside a live aggregator, and an aggregator started meanwhile waits for it.
AGGREGATOR_LOCK_KEY = 0x61676772  # "aggr"


async def hold_aggregator_lock(conn: Conn) -> None:
    """Take the aggregator lock shared on this session (waits while a rebuild runs)."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock_shared($1)", AGGREGATOR_LOCK_KEY):
        log.warning("a rebuild is running; waiting for it to finish")
        await conn.execute("SELECT pg_advisory_lock_shared($1)", AGGREGATOR_LOCK_KEY)


async def try_rebuild_lock(conn: Conn) -> bool:
    """Take the aggregator lock exclusively on this session; False while any aggregator runs."""
    locked: bool = await conn.fetchval("SELECT pg_try_advisory_lock($1)", AGGREGATOR_LOCK_KEY)
    return locked


async def release_rebuild_lock(conn: Conn) -> None:
    """Give back the exclusive lock taken by try_rebuild_lock."""
    await conn.execute("SELECT pg_advisory_unlock($1)", AGGREGATOR_LOCK_KEY)
