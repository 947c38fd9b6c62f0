"""Pure parts of the intake: rate limit, signatures, bilingual errors, sheets, idempotency."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook
from pydantic import ValidationError

from services.intake.directory import normalise_phone
from services.intake.idempotency import (
    Accepted,
    IdempotencyCache,
    IdempotencyKeyReused,
    form_hash,
    form_json,
)
from services.intake.messages import translate_errors
from services.intake.notifier import Reply, reply_for, verdict_text
from services.intake.ratelimit import RateLimiter
from services.intake.sheet import SheetError, read_table, rows_to_forms
from services.intake.signatures import (
    sms_signature,
    sms_signature_ok,
    whatsapp_signature,
    whatsapp_signature_ok,
)
from services.intake.submissions import event_json
from shared.codec import encode
from shared.events import (
    Channel,
    OperatorRef,
    Role,
    Severity,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionValidated,
    Violation,
    utcnow,
)
from shared.form import CHasil, Contest

FORM = CHasil.model_validate(
    {
        "election": "pemilu-2024",
        "contest": "PPWP",
        "tps": "16.07.01.1016.001",
        "suara_calon": {"1": 120, "2": 250, "3": 80},
        "suara_sah": 450,
        "suara_tidak_sah": 5,
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_burst_then_steady_rate_per_operator() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("a") == 1  # empty: half a second to the next token, rounded up
    assert limiter.acquire("b") is None  # other operators have their own bucket
    clock.now += 0.5
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None
    clock.now += 60
    assert [limiter.acquire("a") for _ in range(4)] == [None, None, None, 1]


def test_rate_limiter_forgets_full_buckets_when_crowded() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock, max_operators=10)
    for n in range(10):
        limiter.acquire(f"op{n}")
    clock.now += 5
    limiter.acquire("late")
    assert limiter.acquire("op0") is None


@given(body=st.binary(max_size=500), flip=st.integers(min_value=0, max_value=499))
def test_whatsapp_signature_accepts_only_the_exact_body(body: bytes, flip: int) -> None:
    header = whatsapp_signature("app-secret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert whatsapp_signature_ok("app-secret", body, header)
    assert not whatsapp_signature_ok("other-secret", body, header)
    assert not whatsapp_signature_ok("app-secret", body, None)
    if body:
        changed = bytearray(body)
        changed[flip % len(body)] ^= 0x01
        assert not whatsapp_signature_ok("app-secret", bytes(changed), header)


def test_sms_signature_url_and_sorted_params() -> None:
    url = "https://desk.example/v1/webhooks/sms"
    params = [("MessageSid", "SM1"), ("Body", "PPWP#1"), ("From", "+62811")]
    signature = sms_signature("token", url, params)
    assert sms_signature_ok("token", url, list(reversed(params)), signature)
    assert not sms_signature_ok("token", url + "?x=1", params, signature)
    assert not sms_signature_ok("token", url, [*params[:2], ("From", "+62812")], signature)
    assert not sms_signature_ok("token", url, params, "")


def test_translate_errors_bilingual_per_field() -> None:
    with pytest.raises(ValidationError) as caught:
        CHasil.model_validate(
            {"election": "Pemilu 2024", "contest": "PRESIDEN", "tps": "1", "suara_sah": 1.5}
        )
    details = {d.field: d for d in translate_errors(caught.value.errors())}
    assert details["election"].pesan.startswith("id pemilihan tidak sah")
    assert details["election"].message.startswith("invalid election id")
    assert details["contest"].pesan.startswith("harus salah satu dari")
    assert details["tps"].message.startswith("TPS code must")
    assert details["suara_sah"].pesan == "harus bilangan bulat, tanpa pecahan"
    assert details["suara_tidak_sah"].pesan == "wajib diisi"
    assert all(d.pesan and d.message and d.code for d in details.values())


def test_translate_errors_model_level_rule() -> None:
    with pytest.raises(ValidationError) as caught:
        CHasil.model_validate({**FORM.model_dump(), "contest": "DPR"})
    (detail,) = translate_errors(caught.value.errors())
    assert detail.field is None
    assert "suara_partai" in detail.pesan and "per party" in detail.message


def test_csv_sheet_rows_ignored_columns_and_row_errors() -> None:
    table = read_table(
        b"\xef\xbb\xbfNo;TPS;Nama Desa;Paslon 1;Paslon 2;Sah;Tidak Sah;Jumlah\n"
        b"1;1607011016001;X;120;330;450;5;455\n"
        b"2;16.07.01.1016.002;X;1.234;0;1.234;0;\n"
        b";;;;;;;\n"
        b"3;16.07.01.1016.003;X;abc;1;1;-1;\n"
        b"4;16.07.01.1016;X;1;1;2;0;\n",
        "sheet.csv",
    )
    rows = rows_to_forms(table, election="pemilu-2024", contest=Contest.PPWP, max_rows=10)
    assert [r.row for r in rows] == [2, 3, 5, 6]  # blank row 4 skipped, numbers as in the sheet
    first, second, third, fourth = rows
    assert first.form is not None and first.form.jumlah_suara == 455
    assert first.form.suara_calon == {1: 120, 2: 330}
    assert second.form is not None and second.form.suara_sah == 1234
    assert {e.code for e in third.errors} == {"not_a_count"}
    assert {e.field for e in third.errors} == {"1", "tidak_sah"}
    assert fourth.form is None and fourth.errors[0].field == "tps"


def test_xlsx_party_sheet_and_whole_file_errors() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["TPS", "P1", "Partai 2", "SAH", "TS"])
    sheet.append(["16.07.01.1016.001", 30, 12.0, 42, 3])
    buffer = io.BytesIO()
    book.save(buffer)
    (row,) = rows_to_forms(
        read_table(buffer.getvalue(), "x.xlsx"),
        election="pemilu-2024",
        contest=Contest.DPR,
        max_rows=10,
    )
    assert row.form is not None and row.form.votes_by_candidate() == {"p1": 30, "p2": 12}
    for data, code in [
        (b"", "SHEET_EMPTY"),
        (b"tps,1,2,sah\n", "SHEET_MISSING_COLUMNS"),
        (b"tps,1,1,sah,tidak_sah\n", "SHEET_DUPLICATE_COLUMN"),
        (b"tps,1,foo,sah,tidak_sah\n", "SHEET_UNKNOWN_COLUMNS"),
        (b"tps,1,sah,tidak_sah\n" + b"x,1,1,0\n" * 3, "SHEET_TOO_MANY_ROWS"),
        (b"PK\x03\x04 not really a zip", "SHEET_UNREADABLE"),
    ]:
        with pytest.raises(SheetError) as caught:
            rows_to_forms(
                read_table(data, "f.csv"), election="pemilu-2024", contest=Contest.PPWP, max_rows=2
            )
        assert caught.value.code == code
        assert caught.value.pesan and caught.value.message


def test_party_columns_refused_for_candidate_contest() -> None:
    with pytest.raises(SheetError) as caught:
        rows_to_forms(
            [["tps", "p1", "sah", "tidak_sah"]],
            election="pemilu-2024",
            contest=Contest.PPWP,
            max_rows=10,
        )
    assert caught.value.code == "SHEET_UNKNOWN_COLUMNS"


def _accepted(n: int = 0) -> Accepted:
    return Accepted(
        submission_id=uuid.UUID(int=n),
        received_at=datetime(2024, 2, 14, tzinfo=UTC),
        operator_id="op",
        channel=Channel.API,
        election="pemilu-2024",
        contest="PPWP",
        tps="16.07.01.1016.001",
    )


async def test_idempotency_cache_replays_coalesces_and_forgets_failures() -> None:
    cache = IdempotencyCache(max_entries=2)
    calls = 0
    gate = asyncio.Event()

    async def publish() -> Accepted:
        nonlocal calls
        calls += 1
        await gate.wait()
        return _accepted(calls)

    first = asyncio.create_task(cache.once("op", "k", "h", publish))
    second = asyncio.create_task(cache.once("op", "k", "h", publish))
    await asyncio.sleep(0)
    gate.set()
    (a, replay_a), (b, replay_b) = await first, await second
    assert a == b and calls == 1 and (replay_a, replay_b) == (False, True)
    assert cache.recent(a.submission_id) == a
    with pytest.raises(IdempotencyKeyReused):
        await cache.once("op", "k", "other-hash", publish)
    assert (await cache.once("other-op", "k", "other-hash", publish))[1] is False

    async def failing() -> Accepted:
        raise RuntimeError("kafka down")

    with pytest.raises(RuntimeError):
        await cache.once("op", "k2", "h", failing)
    assert (await cache.once("op", "k2", "h", publish))[1] is False  # the retry publishes
    assert len(cache) == 2  # bounded: the oldest keys fall out


@pytest.mark.parametrize("reply_to", [None, "628110000101"])
def test_an_event_with_its_form_serialised_once_is_the_same_json(reply_to: str | None) -> None:
    event = SubmissionReceived(
        submission_id=uuid.uuid4(),
        received_at=utcnow(),
        channel=Channel.WHATSAPP,
        operator=OperatorRef(id="op", role=Role.OPERATOR, scope=("16.07.01",)),
        idempotency_key="k",
        form=FORM,
        reply_to=reply_to,
        published_at=utcnow(),
    )
    value = event_json(event, form_json(FORM))
    assert json.loads(value) == json.loads(encode(event))
    assert SubmissionReceived.model_validate_json(value) == event
    assert form_hash(FORM, form_json(FORM)) == form_hash(FORM)


def test_form_hash_ignores_spelling_of_the_same_form() -> None:
    undotted = CHasil.model_validate({**FORM.model_dump(), "tps": "1607011016001"})
    assert form_hash(undotted) == form_hash(FORM)
    assert form_hash(FORM.model_copy(update={"suara_sah": 451})) != form_hash(FORM)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+62 811-0000-101", "628110000101"), ("08110000101", "628110000101"), ("6281", "6281")],
)
def test_normalise_phone(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


def test_verdict_texts_in_indonesian() -> None:
    submission = SubmissionReceived(
        submission_id=uuid.uuid4(),
        received_at=datetime(2024, 2, 14, tzinfo=UTC),
        channel=Channel.WHATSAPP,
        operator=OperatorRef(id="op", role=Role.OPERATOR, scope=("16.07.01",)),
        idempotency_key="whatsapp:x",
        form=FORM,
        reply_to="628110000101",
    )
    error = Violation(code="E", severity=Severity.ERROR, pesan="Suara sah salah.", message="x")
    warning = Violation(code="W", severity=Severity.WARNING, pesan="DPT aneh.", message="y")
    rejected = SubmissionRejected(
        submission=submission, violations=(error, warning), rejected_at=submission.received_at
    )
    validated = SubmissionValidated(
        submission=submission, warnings=(warning,), validated_at=submission.received_at
    )
    assert verdict_text(rejected).startswith("Ditolak: Presiden (PPWP) TPS 16.07.01.1016.001.")
    assert "- Suara sah salah." in verdict_text(rejected)
    assert "DPT aneh" not in verdict_text(rejected)
    assert verdict_text(validated).startswith("Diterima:")
    assert "- DPT aneh." in verdict_text(validated)


def test_reply_only_for_fresh_whatsapp_and_sms_verdicts() -> None:
    def validated(channel: Channel, reply_to: str | None, age: timedelta) -> bytes:
        submission = SubmissionReceived(
            submission_id=uuid.uuid4(),
            received_at=utcnow() - age,
            channel=channel,
            operator=OperatorRef(id="op", role=Role.OPERATOR, scope=("16.07.01",)),
            idempotency_key="k",
            form=FORM,
            reply_to=reply_to,
        )
        verdict = SubmissionValidated(submission=submission, validated_at=utcnow())
        return verdict.model_dump_json().encode()

    hour = timedelta(hours=1)
    fresh = timedelta(seconds=5)
    sms_value = validated(Channel.SMS, "628110000101", fresh)
    expected = verdict_text(SubmissionValidated.model_validate_json(sms_value))
    sms = reply_for(sms_value, rejected=False, max_age=hour)
    assert sms == Reply(Channel.SMS, "628110000101", expected)
    whatsapp = validated(Channel.WHATSAPP, "628110000102", fresh)
    assert reply_for(whatsapp, rejected=False, max_age=hour) is not None
    # Nobody waits: the app and sheet channels, no number, a verdict older than the bound.
    assert reply_for(validated(Channel.API, None, fresh), rejected=False, max_age=hour) is None
    assert reply_for(validated(Channel.BATCH, None, fresh), rejected=False, max_age=hour) is None
    assert reply_for(validated(Channel.SMS, None, fresh), rejected=False, max_age=hour) is None
    old = validated(Channel.WHATSAPP, "628110000102", timedelta(hours=2))
    assert reply_for(old, rejected=False, max_age=hour) is None
    with pytest.raises(ValidationError):
        reply_for(b"not json", rejected=False, max_age=hour)
