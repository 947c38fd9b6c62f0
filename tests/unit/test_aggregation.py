"""The aggregator's decisions and deltas as pure functions: each rule, then random streams."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.aggregator.aggregation import (
    BatchOutcome,
    BatchState,
    Decision,
    FormIn,
    Incoming,
    Key,
    Numbers,
    Position,
    RejectedIn,
    Resolution,
    ResultStatus,
    ReviewIn,
    StoredSubmission,
    Submission,
    SubmissionStatus,
    SummaryDelta,
    TpsResult,
    UndecodableEvent,
    areas_above,
    decide_batch,
    numbers_of,
    submission_of,
)
from services.aggregator.consumer import event_from_json
from shared.codec import encode
from shared.events import (
    Channel,
    OperatorRef,
    ReviewDecided,
    Role,
    Severity,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionValidated,
    Violation,
)
from shared.form import LP, CHasil, Contest, DataPemilih, SuaraPartai
from shared.roster import ancestors_of

ELECTION = "pemilu-2024"
TPS_A = "16.07.01.2001.001"
TPS_B = "16.07.01.2001.002"
TPS_C = "16.07.02.1003.001"
ROSTER_DPT = {(ELECTION, TPS_A): 250, (ELECTION, TPS_B): 200, (ELECTION, TPS_C): 280}
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)

OP1 = OperatorRef(id="op1", role=Role.OPERATOR, scope=("16.07.01",))
OP2 = OperatorRef(id="op2", role=Role.OPERATOR, scope=("16.07",))
CAMAT = OperatorRef(id="camat1", role=Role.CAMAT, scope=("16.07.01",))
ADMIN = OperatorRef(id="admin", role=Role.ADMIN)
WARNING = Violation(code="ANOMALY_HIGH_TURNOUT", severity=Severity.WARNING, pesan="a", message="b")
DPT_WARNING = Violation(code="DPT_MISMATCH", severity=Severity.WARNING, pesan="c", message="d")


def uid(n: int) -> UUID:
    return UUID(int=n)


def form(
    tps: str = TPS_A,
    votes: dict[int, int] | None = None,
    tidak_sah: int = 3,
    *,
    contest: Contest = Contest.PPWP,
    election: str = ELECTION,
    pengguna: int | None = None,
) -> CHasil:
    votes = votes if votes is not None else {1: 50, 2: 100, 3: 30}
    sah = sum(votes.values())
    pemilih = None
    if pengguna is not None:
        row = LP(l=pengguna, p=0, jumlah=pengguna)
        zero = LP(l=0, p=0, jumlah=0)
        pemilih = DataPemilih(
            dpt=LP(l=250, p=0, jumlah=250),
            pengguna_dpt=row,
            pengguna_dptb=zero,
            pengguna_dpk=zero,
            pengguna_total=row,
        )
    if contest.is_party_list:
        parties = [
            SuaraPartai(nomor_partai=no, suara_partai=v, jumlah=v) for no, v in votes.items()
        ]
        return CHasil(
            election=election,
            contest=contest,
            tps=tps,
            pemilih=pemilih,
            suara_partai=parties,
            suara_sah=sah,
            suara_tidak_sah=tidak_sah,
        )
    return CHasil(
        election=election,
        contest=contest,
        tps=tps,
        pemilih=pemilih,
        suara_calon=votes,
        suara_sah=sah,
        suara_tidak_sah=tidak_sah,
    )


def received(n: int, operator: OperatorRef, chasil: CHasil, minute: int = 0) -> SubmissionReceived:
    return SubmissionReceived(
        submission_id=uid(n),
        received_at=T0 + timedelta(minutes=minute or n),
        channel=Channel.API,
        operator=operator,
        idempotency_key=f"k{n}",
        form=chasil,
    )


def sent(n: int, operator: OperatorRef, chasil: CHasil) -> FormIn:
    return FormIn(submission_of(received(n, operator, chasil)))


def rejected(n: int, operator: OperatorRef, chasil: CHasil, *violations: Violation) -> RejectedIn:
    return RejectedIn(submission_of(received(n, operator, chasil)), violations)


def review(
    n: int,
    action: str,
    target: int | None = None,
    *,
    reviewer: OperatorRef = CAMAT,
    tps: str = TPS_A,
    contest: Contest = Contest.PPWP,
) -> ReviewIn:
    return ReviewIn(
        ReviewDecided(
            decision_id=uid(10_000 + n),
            decided_at=T0 + timedelta(hours=1, minutes=n),
            reviewer=reviewer,
            election=ELECTION,
            contest=contest,
            tps=tps,
            action=action,
            submission_id=uid(target) if target is not None else None,
            note=f"review {n}",
        )
    )


@dataclass
class Store:
    """What the database holds between batches, as far as the pure function reads and writes it."""

    elections: frozenset[str] = frozenset({ELECTION})
    roster_dpt: dict[tuple[str, str], int] = field(default_factory=lambda: dict(ROSTER_DPT))
    results: dict[Key, TpsResult] = field(default_factory=dict)
    submissions: dict[UUID, tuple[str, Submission]] = field(default_factory=dict)
    reviews: set[UUID] = field(default_factory=set)
    totals: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    summaries: dict[tuple[str, str, str], SummaryDelta] = field(default_factory=dict)
    decisions: Counter[str] = field(default_factory=Counter)
    history: list[tuple[Key, str, UUID]] = field(default_factory=list)
    # anomalies_once (key, code, submission id) -> (resolved_at, resolved_by)
    anomalies: dict[tuple[Key, str, UUID | None], tuple[datetime | None, str | None]] = field(
        default_factory=dict
    )

    def state(self, events: Sequence[Incoming]) -> BatchState:
        """The BatchState repository._load_state would read for these events."""
        results = {}
        for key, result in self.results.items():
            conflicts: tuple[UUID, ...] = ()
            if result.status is ResultStatus.DISPUTED:
                conflicts = tuple(
                    sid
                    for sid, (status, sub) in sorted(
                        self.submissions.items(), key=lambda i: (i[1][1].version.received_at, i[0])
                    )
                    if status == "conflict" and sub.key == key
                )
            results[key] = TpsResult(
                key, result.counted, result.status, result.version, conflicts, result.hold
            )
        stored = {
            sid: StoredSubmission(sub.key, sub.version, status)
            for sid, (status, sub) in self.submissions.items()
        }
        return BatchState(
            elections=self.elections,
            results=results,
            seen={sid: status for sid, (status, _) in self.submissions.items()},
            reviews_applied=frozenset(self.reviews),
            stored=stored,
            roster_dpt=self.roster_dpt,
        )

    def apply(self, events: Sequence[Incoming]) -> BatchOutcome:
        out = decide_batch(events, self.state(events))
        ids = [row.submission.submission_id for row in out.submissions]
        assert len(ids) == len(set(ids)), "one row per submission id per batch"
        for sid, status in out.status_updates.items():
            assert sid in self.submissions, "status updates only touch stored rows"
            self.submissions[sid] = (status.value, self.submissions[sid][1])
        for row in out.submissions:
            sid = row.submission.submission_id
            if sid not in self.submissions or self.submissions[sid][0] == "rejected":
                self.submissions[sid] = (row.status.value, row.submission)
        for key, result in out.results.items():
            self.results[key] = result
        self.reviews.update(r.decision_id for r in out.reviews)
        self.totals.update(out.totals)
        for area, delta in out.summaries.items():
            total = self.summaries.setdefault(area, SummaryDelta())
            for name in ("suara_sah", "suara_tidak_sah", "pengguna", "tps_reported"):
                setattr(total, name, getattr(total, name) + getattr(delta, name))
            total.dpt_reported += delta.dpt_reported
        self.decisions.update(out.decisions)
        self.history.extend((h.key, h.decision.value, h.submission_id) for h in out.history)
        # As repository._write: resolve the stored open rows first, then insert (DO NOTHING).
        for key, resolution in out.resolutions.items():
            for once, resolved in self.anomalies.items():
                if once[0] == key and resolved[0] is None:
                    self.anomalies[once] = (resolution.at, resolution.by)
        for a in out.anomalies:
            self.anomalies.setdefault(
                (a.key, a.code, a.submission_id), (a.resolved_at, a.resolved_by)
            )
        return out

    def status(self, n: int) -> str:
        return self.submissions[uid(n)][0]


def recomputed(
    store: Store,
) -> tuple[Counter[tuple[str, str, str, str]], dict[tuple[str, str, str], tuple[int, ...]]]:
    """Area totals and summaries summed afresh from the final counted result of every TPS."""
    totals: Counter[tuple[str, str, str, str]] = Counter()
    summaries: dict[tuple[str, str, str], list[int]] = {}
    for (election, contest, tps), result in store.results.items():
        numbers = result.in_totals  # nothing while held (quarantine)
        for area in ancestors_of(tps):
            for line, votes in numbers.votes.items():
                totals[(election, contest, area, line)] += votes
            s = summaries.setdefault((election, contest, area), [0, 0, 0, 0, 0])
            s[0] += numbers.suara_sah
            s[1] += numbers.suara_tidak_sah
            s[2] += numbers.voters
            s[3] += 1
            s[4] += store.roster_dpt.get((election, tps), 0)
    return +totals, {k: tuple(v) for k, v in summaries.items()}


def summed(
    store: Store,
) -> tuple[Counter[tuple[str, str, str, str]], dict[tuple[str, str, str], tuple[int, ...]]]:
    summaries: dict[tuple[str, str, str], tuple[int, ...]] = {
        k: (s.suara_sah, s.suara_tidak_sah, s.pengguna, s.tps_reported, s.dpt_reported)
        for k, s in store.summaries.items()
        if not s.is_zero()
    }
    return +store.totals, summaries


# ---- numbers and digests -------------------------------------------------------------------


def numbers(chasil: CHasil) -> Numbers:
    return numbers_of(chasil.model_dump(mode="json"))


def digest(chasil: CHasil) -> str:
    return submission_of(received(1, OP1, chasil)).version.digest


def test_numbers_of_candidate_and_party_forms() -> None:
    assert numbers(form(votes={1: 5, 2: 7}, tidak_sah=1)) == Numbers(
        {"c1": 5, "c2": 7}, 12, 1, None, None
    )
    party = numbers(form(votes={3: 9}, contest=Contest.DPR, pengguna=10))
    assert party == Numbers({"p3": 9}, 9, 3, 10, 250)
    assert party.voters == 10
    assert numbers(form(votes={1: 5}, tidak_sah=2)).voters == 7


def test_digest_ignores_order_but_not_content() -> None:
    assert digest(form(votes={1: 5, 2: 7})) == digest(form(votes={2: 7, 1: 5}))
    dpr_a = form(votes={1: 5, 2: 7}, contest=Contest.DPR)
    dpr_b = form(votes={2: 7, 1: 5}, contest=Contest.DPR)
    assert digest(dpr_a) == digest(dpr_b)
    assert digest(form(votes={1: 5, 2: 7})) != digest(form(votes={1: 5, 2: 8}))
    assert digest(form(tidak_sah=1)) != digest(form(tidak_sah=2))


def test_decoding_an_event_reads_what_the_model_says() -> None:
    sub = received(7, CAMAT, form(votes={1: 5}, contest=Contest.PPWP, pengguna=8))
    event = SubmissionValidated(submission=sub, warnings=(WARNING,), validated_at=T0)
    decoded = event_from_json(encode(event), Position("v", 1, 2), rejected=False)
    assert isinstance(decoded, FormIn)
    assert decoded.submission == submission_of(sub) and decoded.warnings == (WARNING,)
    assert decoded.submission.key == (ELECTION, "PPWP", TPS_A)
    assert decoded.submission.operator_role is Role.CAMAT
    assert decoded.submission.idempotency_key == "k7"
    assert decoded.submission.version.received_at == sub.received_at
    assert CHasil.model_validate_json(decoded.submission.form_json) == sub.form
    rejected = SubmissionRejected(submission=sub, violations=(WARNING,), rejected_at=T0)
    back = event_from_json(encode(rejected), Position("r", 1, 2), rejected=True)
    assert isinstance(back, RejectedIn) and back.submission == submission_of(sub)


def test_the_canonical_form_text_ignores_the_order_it_was_sent_in() -> None:
    # The digest decides duplicates against versions already stored: it must not depend on
    # the order of a form's keys or of its parties.
    sub = received(7, OP1, form(votes={1: 5, 2: 7, 10: 1}))
    data = orjson.loads(sub.model_dump_json())
    data["form"]["suara_calon"] = dict(reversed(data["form"]["suara_calon"].items()))
    data["form"] = dict(reversed(data["form"].items()))
    event = {"type": "submission.validated", "submission": data, "validated_at": T0.isoformat()}
    decoded = event_from_json(orjson.dumps(event), Position("v", 0, 0), rejected=False)
    assert isinstance(decoded, FormIn)
    assert decoded.submission.version.digest == submission_of(sub).version.digest


Corruption = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda d: d["submission"].pop("form"),
        lambda d: d["submission"]["form"].update(suara_sah="12"),
        lambda d: d["submission"]["form"].update(suara_sah=-1),
        lambda d: d["submission"]["form"].update(suara_calon=None),
        lambda d: d["submission"]["operator"].update(role="raja"),
        lambda d: d["submission"].update(received_at="yesterday"),
        lambda d: d["submission"].update(submission_id="not-a-uuid"),
        lambda d: d.update(type="submission.rejected"),
        lambda d: d.update(surprise=1),
    ],
)
def test_decoding_refuses_what_the_shared_model_refuses(
    corrupt: Callable[[dict[str, Any]], object],
) -> None:
    event = SubmissionValidated(submission=received(7, OP1, form()), validated_at=T0)
    data = orjson.loads(encode(event))
    corrupt(data)
    with pytest.raises(UndecodableEvent):
        event_from_json(orjson.dumps(data), Position("v", 0, 0), rejected=False)


def test_a_validated_event_on_the_rejected_topic_is_undecodable() -> None:
    event = SubmissionValidated(submission=received(7, OP1, form()), validated_at=T0)
    with pytest.raises(UndecodableEvent):
        event_from_json(encode(event), Position("r", 0, 0), rejected=True)
    with pytest.raises(UndecodableEvent):
        event_from_json(b"not json", Position("v", 0, 0), rejected=False)


@given(st.from_regex(r"\A\d{2}\.\d{2}\.\d{2}\.\d{4}\.\d{3}\Z") | st.from_regex(r"\A[0-9.]{1,20}\Z"))
def test_areas_above_equals_the_shared_ancestors(tps: str) -> None:
    assert areas_above(tps) == ancestors_of(tps)


# ---- one rule at a time ----------------------------------------------------------------------


def test_new_result_counts_at_every_ancestor_with_progress() -> None:
    store = Store()
    out = store.apply([sent(1, OP1, form(votes={1: 10, 2: 20}, tidak_sah=2))])
    assert out.decisions == Counter({Decision.NEW: 1})
    assert store.status(1) == "accepted"
    key = (ELECTION, "PPWP", TPS_A)
    assert store.results[key].status is ResultStatus.OK and store.results[key].version == 1
    for area in ("16.07.01.2001", "16.07.01", "16.07", "16"):
        assert out.totals[(ELECTION, "PPWP", area, "c1")] == 10
        assert out.totals[(ELECTION, "PPWP", area, "c2")] == 20
        assert out.summaries[(ELECTION, "PPWP", area)] == SummaryDelta(30, 2, 32, 1, 250)
    assert len(out.totals) == 8 and len(out.summaries) == 4
    assert [h.decision for h in out.history] == [Decision.NEW]


def test_repeat_of_a_submission_id_writes_nothing() -> None:
    store = Store()
    store.apply([sent(1, OP1, form())])
    out = store.apply([sent(1, OP1, form()), sent(1, OP1, form())])
    assert out.decisions == Counter({Decision.REPEAT: 2})
    assert not (out.submissions or out.totals or out.summaries or out.history or out.results)
    within = Store().apply([sent(1, OP1, form()), sent(1, OP1, form())])
    assert within.decisions == Counter({Decision.NEW: 1, Decision.REPEAT: 1})
    assert len(within.submissions) == 1


def test_identical_form_from_anyone_is_a_duplicate() -> None:
    store = Store()
    out = store.apply([sent(1, OP1, form()), sent(2, OP2, form()), sent(3, OP1, form())])
    assert out.decisions == Counter({Decision.NEW: 1, Decision.DUPLICATE: 2})
    assert [store.status(n) for n in (1, 2, 3)] == ["accepted", "duplicate", "duplicate"]
    assert store.results[(ELECTION, "PPWP", TPS_A)].version == 1
    assert [h.decision for h in out.history] == ["new", "duplicate", "duplicate"]


def test_same_operator_revises_and_totals_move_by_the_difference() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10, 2: 20}))])
    out = store.apply([sent(2, OP1, form(votes={1: 12, 2: 20, 3: 1}))])
    assert out.decisions == Counter({Decision.REVISION: 1})
    assert out.status_updates == {uid(1): SubmissionStatus.SUPERSEDED}
    assert out.totals[(ELECTION, "PPWP", "16.07", "c1")] == 2
    assert out.totals[(ELECTION, "PPWP", "16.07", "c3")] == 1
    assert (ELECTION, "PPWP", "16.07", "c2") not in out.totals
    assert out.summaries[(ELECTION, "PPWP", "16")] == SummaryDelta(3, 0, 3, 0, 0)
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.version == 2 and result.counted.submission_id == uid(2)
    assert store.status(1) == "superseded" and store.status(2) == "revision"


def test_same_operator_other_figures_same_votes_is_a_zero_delta_revision() -> None:
    store = Store()
    store.apply([sent(1, OP1, form())])
    # Adds section I: 180 valid + 3 invalid = 183 voters either way, so nothing moves.
    out = store.apply([sent(2, OP1, form(pengguna=183))])
    assert out.decisions == Counter({Decision.REVISION: 1})
    assert out.totals == {} and out.summaries == {}
    assert store.results[(ELECTION, "PPWP", TPS_A)].counted.submission_id == uid(2)


def test_other_operator_with_the_same_numbers_agrees() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(pengguna=183))])
    same_numbers = form(pengguna=183).model_copy(update={"jumlah_suara": 183})
    out = store.apply([sent(2, OP2, same_numbers)])
    assert out.decisions == Counter({Decision.DUPLICATE: 1})
    assert store.results[(ELECTION, "PPWP", TPS_A)].status is ResultStatus.OK
    assert store.status(2) == "duplicate"


def test_other_operator_with_other_numbers_is_a_conflict_and_totals_keep_the_first() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10}))])
    out = store.apply([sent(2, OP2, form(votes={1: 99}))])
    assert out.decisions == Counter({Decision.CONFLICT: 1})
    assert out.totals == {} and out.summaries == {}
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.status is ResultStatus.DISPUTED
    assert result.counted.submission_id == uid(1)
    assert result.open_conflicts == (uid(2),)
    assert store.status(2) == "conflict"
    assert [h.decision for h in out.history] == [Decision.CONFLICT]


def test_operator_revision_keeps_the_dispute_open() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, OP2, form(votes={1: 99}))])
    store.apply([sent(3, OP1, form(votes={1: 11}))])
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.status is ResultStatus.DISPUTED and result.counted.submission_id == uid(3)
    assert store.status(2) == "conflict"
    assert store.totals[(ELECTION, "PPWP", "16", "c1")] == 11


@pytest.mark.parametrize("reviser", [CAMAT, ADMIN])
def test_camat_or_admin_form_replaces_and_settles_the_dispute(reviser: OperatorRef) -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, OP2, form(votes={1: 99}))])
    out = store.apply([sent(3, reviser, form(votes={1: 12}))])
    assert out.decisions == Counter({Decision.REVISION: 1})
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.status is ResultStatus.VERIFIED and result.open_conflicts == ()
    assert [store.status(n) for n in (1, 2, 3)] == ["superseded", "superseded", "revision"]
    assert store.totals[(ELECTION, "PPWP", "16", "c1")] == 12


def test_operator_other_than_the_camat_conflicts_with_the_camat_form() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, CAMAT, form(votes={1: 12}))])
    out = store.apply([sent(3, OP1, form(votes={1: 10}))])
    assert out.decisions == Counter({Decision.CONFLICT: 1})
    assert store.totals[(ELECTION, "PPWP", "16", "c1")] == 12


def test_accept_version_counts_the_conflicting_form() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, OP2, form(votes={1: 99}))])
    store.apply([sent(3, OP2, form(votes={1: 98}))])  # a second conflict, still open
    out = store.apply([review(1, "accept_version", 2)])
    assert out.decisions == Counter({Decision.REVIEW: 1})
    assert out.totals[(ELECTION, "PPWP", "16", "c1")] == 89
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.status is ResultStatus.VERIFIED and result.counted.submission_id == uid(2)
    assert result.version == 2 and result.open_conflicts == ()
    assert [store.status(n) for n in (1, 2, 3)] == ["superseded", "accepted", "superseded"]
    assert out.history[0].decision is Decision.REVIEW
    assert out.history[0].operator_id == "camat1" and out.history[0].note == "review 1"
    assert [r.decision_id for r in out.reviews] == [uid(10_001)]


def test_accept_version_of_a_superseded_form_goes_back_to_it() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10}))])
    store.apply([sent(2, OP1, form(votes={1: 20}))])
    store.apply([review(1, "accept_version", 1, reviewer=ADMIN)])
    assert store.totals[(ELECTION, "PPWP", "16", "c1")] == 10
    assert store.status(1) == "accepted" and store.status(2) == "superseded"


def test_verify_settles_the_dispute_keeping_the_counted_form() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, OP2, form(votes={1: 99}))])
    out = store.apply([review(1, "verify")])
    assert out.totals == {} and out.summaries == {}
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.status is ResultStatus.VERIFIED and result.counted.submission_id == uid(1)
    assert store.status(2) == "superseded"
    assert out.history[0].version == 1 and out.history[0].votes is None


def test_reviews_that_cannot_apply_are_raised_not_applied() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, OP2, form(votes={1: 99}))])
    store.apply([rejected(5, OP1, form(votes={1: 1}))])
    store.apply([sent(6, OP1, form(tps=TPS_B))])
    out = store.apply(
        [
            review(1, "verify", reviewer=OP1),  # an operator cannot decide
            review(2, "verify", tps=TPS_C),  # no result there yet
            review(3, "accept_version", 777),  # unknown submission
            review(4, "accept_version", 5),  # a rejected one
            review(5, "accept_version", 6),  # a form of another TPS
            review(6, "accept_version", None),
        ]
    )
    assert out.decisions == Counter({Decision.REVIEW_IGNORED: 6})
    assert [a.code for a in out.anomalies] == [
        "REVIEW_ROLE",
        "REVIEW_NO_RESULT",
        "REVIEW_VERSION_UNKNOWN",
        "REVIEW_VERSION_UNKNOWN",
        "REVIEW_VERSION_UNKNOWN",
        "REVIEW_VERSION_UNKNOWN",
    ]
    assert out.reviews == [] and out.totals == {}
    assert store.results[(ELECTION, "PPWP", TPS_A)].status is ResultStatus.DISPUTED


def test_a_review_decision_applies_once() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10})), sent(2, OP2, form(votes={1: 99}))])
    store.apply([review(1, "accept_version", 2)])
    store.apply([sent(3, OP1, form(votes={1: 50}))])  # op1 now conflicts with op2's numbers
    out = store.apply([review(1, "accept_version", 2)])
    assert out.decisions == Counter({Decision.REPEAT: 1})
    assert store.results[(ELECTION, "PPWP", TPS_A)].status is ResultStatus.DISPUTED


def test_review_in_the_same_batch_as_the_forms() -> None:
    store = Store()
    out = store.apply(
        [
            sent(1, OP1, form(votes={1: 10})),
            sent(2, OP2, form(votes={1: 99})),
            review(1, "accept_version", 2),
        ]
    )
    assert out.decisions == Counter({Decision.NEW: 1, Decision.CONFLICT: 1, Decision.REVIEW: 1})
    assert out.status_updates == {}
    assert [store.status(n) for n in (1, 2)] == ["superseded", "accepted"]
    assert store.totals[(ELECTION, "PPWP", "16", "c1")] == 99


def test_rejected_forms_are_recorded_and_a_later_validation_wins() -> None:
    store = Store()
    violation = Violation(code="SAH_SUM", severity=Severity.ERROR, pesan="x", message="y")
    out = store.apply([rejected(1, OP1, form(), violation)])
    assert out.decisions == Counter({Decision.REJECTED: 1})
    assert out.submissions[0].violations == (violation,) and out.totals == {}
    again = store.apply([rejected(1, OP1, form(), violation)])
    assert again.decisions == Counter({Decision.REPEAT: 1})
    validated = store.apply([sent(1, OP1, form())])
    assert validated.decisions == Counter({Decision.NEW: 1}) and store.status(1) == "accepted"
    late = store.apply([rejected(1, OP1, form(), violation)])
    assert late.decisions == Counter({Decision.REPEAT: 1}) and store.status(1) == "accepted"
    both = Store().apply([rejected(1, OP1, form()), sent(1, OP1, form())])
    assert [r.status for r in both.submissions] == [SubmissionStatus.ACCEPTED]


def test_warnings_become_anomalies_and_unknown_elections_are_skipped() -> None:
    warning = Violation(
        code="ANOMALY_HIGH_TURNOUT", severity=Severity.WARNING, pesan="a", message="b"
    )
    store = Store()
    out = store.apply(
        [
            FormIn(submission_of(received(1, OP1, form())), (warning,)),
            sent(2, OP1, form(election="pilkada-2024")),
            rejected(3, OP1, form(election="pilkada-2024")),
        ]
    )
    assert [(a.code, a.severity, a.submission_id) for a in out.anomalies] == [
        ("ANOMALY_HIGH_TURNOUT", "warning", uid(1))
    ]
    assert out.decisions == Counter({Decision.NEW: 1, Decision.UNKNOWN_ELECTION: 2})


def test_dpt_reported_falls_back_to_the_form_then_zero() -> None:
    store = Store(roster_dpt={})
    out = store.apply(
        [sent(1, OP1, form(pengguna=183)), sent(2, OP1, form(tps=TPS_B, votes={1: 1}))]
    )
    assert out.summaries[(ELECTION, "PPWP", "16.07.01.2001")].dpt_reported == 250
    assert out.summaries[(ELECTION, "PPWP", "16.07.01.2001")].tps_reported == 2


def test_party_list_lines_and_contests_are_separate() -> None:
    store = Store()
    out = store.apply(
        [
            sent(1, OP1, form(votes={1: 10}, contest=Contest.DPR)),
            sent(2, OP1, form(votes={1: 7})),
        ]
    )
    assert out.totals[(ELECTION, "DPR", "16", "p1")] == 10
    assert out.totals[(ELECTION, "PPWP", "16", "c1")] == 7
    assert out.decisions == Counter({Decision.NEW: 2})


def test_verify_resolves_the_anomalies_raised_before_it_and_not_later_ones() -> None:
    store = Store()
    key = (ELECTION, "PPWP", TPS_A)
    store.apply(
        [
            FormIn(submission_of(received(1, OP1, form())), (WARNING,)),
            review(1, "verify", reviewer=OP1),  # cannot apply: REVIEW_ROLE, open
            FormIn(submission_of(received(2, OP1, form(tps=TPS_B))), (WARNING,)),
        ]
    )
    out = store.apply(
        [
            FormIn(submission_of(received(3, OP1, form(votes={1: 1}))), (DPT_WARNING,)),
            review(2, "verify"),
            FormIn(submission_of(received(4, OP1, form(votes={1: 2}))), (WARNING,)),
            review(3, "verify"),  # a second verify in the batch resolves what came since
            FormIn(submission_of(received(5, OP1, form(votes={1: 3}))), (DPT_WARNING,)),
        ]
    )
    decided = T0 + timedelta(hours=1, minutes=2)
    assert out.resolutions == {key: Resolution(key, decided, "camat1")}
    assert [(a.submission_id, a.resolved_at, a.resolved_by) for a in out.anomalies] == [
        (uid(3), decided, "camat1"),
        (uid(4), decided + timedelta(minutes=1), "camat1"),
        (uid(5), None, None),
    ]
    assert store.anomalies == {
        (key, "ANOMALY_HIGH_TURNOUT", uid(1)): (decided, "camat1"),
        (key, "REVIEW_ROLE", None): (decided, "camat1"),
        ((ELECTION, "PPWP", TPS_B), "ANOMALY_HIGH_TURNOUT", uid(2)): (None, None),
        (key, "DPT_MISMATCH", uid(3)): (decided, "camat1"),
        (key, "ANOMALY_HIGH_TURNOUT", uid(4)): (decided + timedelta(minutes=1), "camat1"),
        (key, "DPT_MISMATCH", uid(5)): (None, None),
    }


def test_only_an_applied_verify_resolves_anomalies() -> None:
    store = Store()
    store.apply(
        [
            FormIn(submission_of(received(1, OP1, form(votes={1: 10}))), (WARNING,)),
            FormIn(submission_of(received(2, OP2, form(votes={1: 99}))), (DPT_WARNING,)),
        ]
    )
    for decision in (
        review(1, "verify", reviewer=OP1),  # an operator cannot decide
        review(2, "verify", contest=Contest.DPR),  # another contest of the TPS
        review(3, "accept_version", 2),  # settles the conflict: no conflict anomaly exists
    ):
        out = store.apply([decision])
        assert out.resolutions == {}
        assert all(a.resolved_at is None for a in out.anomalies)
    assert store.results[(ELECTION, "PPWP", TPS_A)].status is ResultStatus.VERIFIED
    assert {resolved for resolved in store.anomalies.values()} == {(None, None)}
    again = store.apply([review(2, "verify", contest=Contest.DPR)])
    assert again.decisions == Counter({Decision.REVIEW_IGNORED: 1})
    store.apply([review(4, "verify")])
    store.apply([review(4, "verify")])  # a repeat: resolves nothing again
    resolved = {once[1]: by for once, (_, by) in store.anomalies.items()}
    assert resolved == {
        "ANOMALY_HIGH_TURNOUT": "camat1",
        "DPT_MISMATCH": "camat1",
        "REVIEW_ROLE": "camat1",
        "REVIEW_NO_RESULT": None,  # the DPR contest of the TPS is another key
    }


# ---- random streams: deltas always equal a recomputation from the final results ------------

OPERATORS = (OP1, OP2, CAMAT, ADMIN)
KEYS = ((TPS_A, Contest.PPWP), (TPS_B, Contest.PPWP), (TPS_C, Contest.PPWP), (TPS_A, Contest.DPR))


@st.composite
def streams(draw: st.DrawFn) -> list[Incoming]:
    """Forms, repeats, rejections and reviews over a few TPS, with few distinct numbers."""
    events: list[Incoming] = []
    forms: list[SubmissionReceived] = []
    n_reviews = 0
    for n in range(1, draw(st.integers(1, 40)) + 1):
        kind = draw(st.sampled_from(["form"] * 6 + ["repeat", "rejected", "review", "review"]))
        if kind == "repeat" and forms:
            events.append(FormIn(submission_of(draw(st.sampled_from(forms)))))
        elif kind == "review":
            n_reviews += 1
            tps, contest = draw(st.sampled_from(KEYS))
            target = draw(st.sampled_from([None, 999, *(f.submission_id.int for f in forms)]))
            quarantine = st.sampled_from(["verify", "hold", "release", "reject"])
            action = draw(quarantine) if target is None else "accept_version"
            reviewer = draw(st.sampled_from([CAMAT, ADMIN, CAMAT, OP1]))
            events.append(
                review(n_reviews, action, target, reviewer=reviewer, tps=tps, contest=contest)
            )
            if draw(st.booleans()):
                events.append(events[-1])
        else:
            tps, contest = draw(st.sampled_from(KEYS))
            votes = {1: draw(st.integers(0, 3)), 2: draw(st.integers(0, 2))}
            pengguna = draw(st.sampled_from([None, sum(votes.values()) + 1]))
            chasil = form(tps, votes, 1, contest=contest, pengguna=pengguna)
            sub = received(n, draw(st.sampled_from(OPERATORS)), chasil)
            if kind == "rejected":
                events.append(RejectedIn(submission_of(sub), ()))
            else:
                forms.append(sub)
                warnings = draw(st.sampled_from([(), (), (WARNING,), (WARNING, DPT_WARNING)]))
                events.append(FormIn(submission_of(sub), warnings))
    return events


def run_in_batches(events: Sequence[Incoming], cuts: Iterable[int]) -> Store:
    store = Store()
    start = 0
    for cut in [*sorted(set(cuts)), len(events)]:
        store.apply(events[start:cut])
        start = cut
    return store


@settings(max_examples=400, deadline=None)
@given(streams(), st.lists(st.integers(0, 60), max_size=8))
def test_deltas_equal_a_recomputation_whatever_the_batching(
    events: list[Incoming], cuts: list[int]
) -> None:
    cuts = [c for c in cuts if c <= len(events)]
    batched = run_in_batches(events, cuts)
    assert summed(batched) == recomputed(batched)
    whole = run_in_batches(events, [])
    assert summed(whole) == summed(batched)
    assert whole.results == batched.results
    assert whole.submissions == batched.submissions
    assert whole.decisions == batched.decisions
    assert whole.history == batched.history
    assert whole.anomalies == batched.anomalies
    for result in batched.results.values():
        open_conflicts = [
            sid
            for sid, (status, sub) in batched.submissions.items()
            if status == "conflict" and sub.key == result.key
        ]
        assert (result.status is ResultStatus.DISPUTED) == bool(open_conflicts)
        status = batched.submissions[result.counted.submission_id][0]
        assert status in ("accepted", "revision")
