"""The validator's pure judging step: decode, verdict, and the bytes it publishes."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from services.validator.judge import (
    MAX_ORIGINAL_BYTES,
    Outcome,
    Source,
    Stamp,
    Undecodable,
    decode,
    judge,
)
from services.validator.reviews import check_review
from shared.events import (
    Channel,
    DeadLetter,
    OperatorRef,
    ReviewDecided,
    Role,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionValidated,
    validated_adapter,
)
from shared.form import LP, CHasil, Contest, DataPemilih, SuratSuara
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

ELECTION = "pemilu-2024"
TPS = "16.07.01.1016.001"
ROSTER = ElectionRoster(
    election_id=ELECTION,
    kind="pemilu",
    max_dpt_per_tps=300,
    ballot_reserve_pct=2.0,
    tps={TPS: TpsInfo(TPS, 1, 140, 135)},
    contests={Contest.PPWP: ContestInfo(Contest.PPWP, candidates=frozenset({1, 2, 3}))},
)
ROSTERS = {ELECTION: ROSTER}
SOURCE = Source("t.submissions.received.v1", 2, 41, TPS.encode())
STAMP = Stamp.now()
OPERATOR = OperatorRef(id="op-1", role=Role.OPERATOR, scope=("16.07.01",), name="Petugas")


def _form(*, sah: int = 200, tps: str = TPS, calon: dict[int, int] | None = None) -> CHasil:
    return CHasil(
        election=ELECTION,
        contest=Contest.PPWP,
        tps=tps,
        pemilih=DataPemilih(
            dpt=LP(l=140, p=135, jumlah=275),
            pengguna_dpt=LP(l=100, p=100, jumlah=200),
            pengguna_dptb=LP(l=2, p=3, jumlah=5),
            pengguna_dpk=LP(l=0, p=1, jumlah=1),
            pengguna_total=LP(l=102, p=104, jumlah=206),
        ),
        surat_suara=SuratSuara(diterima=281, digunakan=206, rusak=2, sisa=73),
        suara_calon=calon or {1: 60, 2: 90, 3: 50},
        suara_sah=sah,
        suara_tidak_sah=6,
        jumlah_suara=206,
    )


def _submission(form: CHasil, operator: OperatorRef = OPERATOR) -> SubmissionReceived:
    return SubmissionReceived(
        submission_id=uuid.uuid4(),
        received_at=datetime(2024, 2, 14, 13, 0, tzinfo=UTC),
        channel=Channel.API,
        operator=operator,
        idempotency_key=uuid.uuid4().hex,
        form=form,
    )


def _judge(value: bytes | None) -> tuple[Outcome, bytes | None, bytes]:
    verdict = judge(decode(value), value, SOURCE, ROSTERS, STAMP)
    return verdict.outcome, verdict.key, verdict.value


def test_a_consistent_form_is_validated_as_the_model_would_serialise_it() -> None:
    sub = _submission(_form())
    outcome, key, value = _judge(sub.model_dump_json().encode())
    assert outcome is Outcome.VALIDATED
    assert key == TPS.encode()
    expected = SubmissionValidated(submission=sub, warnings=(), validated_at=STAMP.at)
    assert value == expected.model_dump_json().encode()
    assert validated_adapter.validate_json(value) == expected


def test_warnings_ride_along_with_a_validated_form() -> None:
    # Candidate 3 left off the form: a warning (CANDIDATE_MISSING), not an error.
    sub = _submission(_form(calon={1: 110, 2: 90}))
    verdict = judge(decode(sub.model_dump_json().encode()), None, SOURCE, ROSTERS, STAMP)
    assert verdict.outcome is Outcome.VALIDATED
    event = SubmissionValidated.model_validate_json(verdict.value)
    assert [w.code for w in event.warnings] == ["CANDIDATE_MISSING"]
    assert verdict.value == event.model_dump_json().encode()


def test_an_arithmetic_error_rejects_with_every_violation() -> None:
    sub = _submission(_form(sah=201))
    outcome, key, value = _judge(sub.model_dump_json().encode())
    assert outcome is Outcome.REJECTED
    assert key == TPS.encode()
    event = SubmissionRejected.model_validate_json(value)
    assert event.submission == sub
    assert {"SAH_SUM", "PENGGUNA_VS_SUARA"} <= {v.code for v in event.violations}
    assert all(v.pesan and v.message for v in event.violations)
    assert value == event.model_dump_json().encode()


def test_unknown_election_and_tps_are_rejections_not_dead_letters() -> None:
    unknown_tps = _submission(_form(tps="16.07.01.1016.099"))
    outcome, _, value = _judge(unknown_tps.model_dump_json().encode())
    assert outcome is Outcome.REJECTED
    assert "TPS_UNKNOWN" in {
        v.code for v in SubmissionRejected.model_validate_json(value).violations
    }
    verdict = judge(decode(unknown_tps.model_dump_json().encode()), None, SOURCE, {}, STAMP)
    assert verdict.outcome is Outcome.REJECTED
    assert "ELECTION_UNKNOWN" in {v.code for v in verdict.violations}


def test_the_output_carries_the_normalised_tps_code() -> None:
    raw = orjson.loads(_submission(_form()).model_dump_json())
    raw["form"]["tps"] = "1607011016001"
    outcome, key, value = _judge(orjson.dumps(raw))
    assert outcome is Outcome.VALIDATED
    assert key == TPS.encode()
    assert SubmissionValidated.model_validate_json(value).submission.form.tps == TPS


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\xff not json",
        b'{"type": "submission.received"}',
        b'{"type": "form.v2", "anything": 1}',
        b"[]",
        None,
    ],
)
def test_undecodable_records_become_dead_letters_with_the_original(value: bytes | None) -> None:
    event = decode(value)
    assert isinstance(event, Undecodable)
    outcome, key, out = _judge(value)
    assert outcome is Outcome.DEAD_LETTER
    assert key == SOURCE.key
    letter = DeadLetter.model_validate_json(out)
    assert base64.b64decode(letter.original_b64) == (value or b"")
    assert (letter.source_topic, letter.partition, letter.offset) == (
        "t.submissions.received.v1",
        2,
        41,
    )
    assert letter.key == TPS
    assert letter.error


def test_a_dead_letter_keeps_at_most_max_original_bytes() -> None:
    value = b"x" * (MAX_ORIGINAL_BYTES + 10)
    _, _, out = _judge(value)
    letter = DeadLetter.model_validate_json(out)
    assert len(base64.b64decode(letter.original_b64)) == MAX_ORIGINAL_BYTES
    assert "cut to" in letter.error


def _review(reviewer: OperatorRef, **changes: object) -> ReviewDecided:
    fields: dict[str, object] = {
        "decision_id": uuid.uuid4(),
        "decided_at": datetime(2024, 2, 15, 9, 0, tzinfo=UTC),
        "reviewer": reviewer,
        "election": ELECTION,
        "contest": Contest.PPWP,
        "tps": TPS,
        "action": "accept_version",
        "submission_id": uuid.uuid4(),
    }
    fields.update(changes)
    return ReviewDecided.model_validate(fields)


CAMAT = OperatorRef(id="camat-1", role=Role.CAMAT, scope=("16.07.01",))


def test_a_review_decision_in_scope_is_forwarded_as_it_is() -> None:
    decision = _review(CAMAT)
    outcome, key, value = _judge(decision.model_dump_json().encode())
    assert outcome is Outcome.REVIEW
    assert key == TPS.encode()
    assert validated_adapter.validate_json(value) == decision


@pytest.mark.parametrize(
    ("reviewer", "changes", "codes"),
    [
        (OPERATOR, {}, {"REVIEW_ROLE"}),
        (OperatorRef(id="c2", role=Role.CAMAT, scope=("16.07.02",)), {}, {"REVIEW_SCOPE_OUTSIDE"}),
        (CAMAT, {"tps": "16.07.01.1016.099"}, {"TPS_UNKNOWN"}),
        (CAMAT, {"contest": Contest.DPD}, {"CONTEST_UNKNOWN"}),
        (CAMAT, {"election": "pemilu-2029"}, {"ELECTION_UNKNOWN"}),
        (CAMAT, {"submission_id": None}, {"REVIEW_SUBMISSION_MISSING"}),
    ],
)
def test_a_refused_review_decision_goes_to_the_dlq_with_its_codes(
    reviewer: OperatorRef, changes: dict[str, object], codes: set[str]
) -> None:
    decision = _review(reviewer, **changes)
    assert {v.code for v in check_review(decision, ROSTER)} == codes
    value = decision.model_dump_json().encode()
    verdict = judge(decode(value), value, SOURCE, ROSTERS, STAMP)
    assert verdict.outcome is Outcome.REVIEW_REJECTED
    letter = DeadLetter.model_validate_json(verdict.value)
    assert letter.error.startswith("review rejected: ")
    assert all(code in letter.error for code in codes)
    assert base64.b64decode(letter.original_b64) == value


def test_a_verify_decision_needs_no_submission_id() -> None:
    decision = _review(
        OperatorRef(id="admin", role=Role.ADMIN), action="verify", submission_id=None
    )
    assert check_review(decision, ROSTER) == []
