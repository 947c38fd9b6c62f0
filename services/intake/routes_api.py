"""JSON routes for the mobile app: one form, a batch of forms, a spreadsheet upload, status."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, File, Form, Header, Request, Response, UploadFile
from fastapi.openapi.models import Example
from pydantic import BaseModel, ValidationError

from services.intake import repository
from services.intake.deps import (
    CurrentOperator,
    IntakeDep,
    SettingsDep,
    SubmittingOperator,
)
from services.intake.directory import DirectoryRefresher
from services.intake.idempotency import Accepted
from services.intake.messages import INVALID_MESSAGE, INVALID_PESAN, translate_errors
from services.intake.schemas import (
    EXAMPLE_FORM,
    EXAMPLE_PARTY_FORM,
    BatchIn,
    BatchResult,
    ErrorOut,
    IntakeError,
    ItemResult,
    JsonResponse,
    SubmissionAccepted,
    SubmissionStatus,
)
from services.intake.sheet import COLUMNS_HELP, SheetError, read_table, rows_to_forms
from services.intake.submissions import Intake
from shared.events import Channel, OperatorRef
from shared.form import CHasil, Contest, ElectionId
from shared.hotpath import HotRoute
from shared.policy import may_see_submission

# JSON routes are hot (shared.hotpath); the upload's multipart form goes through FastAPI's solver.
router = APIRouter(prefix="/v1/submissions", tags=["submissions"], route_class=HotRoute)
upload_router = APIRouter(prefix="/v1/submissions", tags=["submissions"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Same key and same form from the same operator: same submission id, "
        "stored once. Same key with another form: 409 IDEMPOTENCY_KEY_REUSED.",
        examples=["hp-andi-2024-02-14-0001"],
    ),
]

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No token, bad, expired or revoked token"},
    403: {"model": ErrorOut, "description": "Viewer account, or TPS outside the operator's area"},
    409: {"model": ErrorOut, "description": "Idempotency-Key already used for another form"},
    422: {"model": ErrorOut, "description": "Shape errors per field (Indonesian and English)"},
    429: {"model": ErrorOut, "description": "Rate limit per operator; see Retry-After"},
    503: {"model": ErrorOut, "description": "Kafka did not acknowledge in time; see Retry-After"},
}


def _example(model: type[BaseModel]) -> dict[str, Any]:
    example = model.model_json_schema()["examples"][0]
    return {"content": {"application/json": {"example": example}}}


def status_url(submission_id: uuid.UUID) -> str:
    """Where the app follows a submission's fate."""
    return f"/v1/submissions/{submission_id}"


def accepted_body(accepted: Accepted) -> dict[str, Any]:
    """The 202 body, built only from the remembered outcome so that a replay is byte-identical."""
    return {
        "submission_id": str(accepted.submission_id),
        "status": "received",
        "status_url": status_url(accepted.submission_id),
        "received_at": accepted.received_at.isoformat(),
        "election": accepted.election,
        "contest": accepted.contest,
        "tps": accepted.tps,
    }


@router.post(
    "",
    status_code=202,
    summary="Send one C.Hasil form",
    response_model=SubmissionAccepted,
    responses={202: _example(SubmissionAccepted), **_AUTH_ERRORS},
)
async def submit_one(
    form: Annotated[
        CHasil,
        Body(
            openapi_examples={
                "paslon": Example(summary="PPWP, votes per paslon", value=EXAMPLE_FORM),
                "partai": Example(summary="DPR, votes per party", value=EXAMPLE_PARTY_FORM),
            }
        ),
    ],
    operator: SubmittingOperator,
    intake: IntakeDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """202 once Kafka acknowledged the form (acks=all); 503 with Retry-After when it did not."""
    accepted, _ = await intake.submit(
        operator, form, channel=Channel.API, idempotency_key=idempotency_key
    )
    return JsonResponse(accepted_body(accepted), status_code=202)


async def _submit_item(
    intake: Intake,
    operator: OperatorRef,
    index: int,
    raw_form: dict[str, Any] | CHasil,
    key: str | None,
    channel: Channel,
) -> ItemResult:
    try:
        form = raw_form if isinstance(raw_form, CHasil) else CHasil.model_validate(raw_form)
    except ValidationError as exc:
        return ItemResult(
            index=index,
            status=422,
            tps=_raw_tps(raw_form),
            error=ErrorOut(
                code="INVALID_REQUEST",
                pesan=INVALID_PESAN,
                message=INVALID_MESSAGE,
                details=translate_errors(exc.errors()),
            ),
        )
    try:
        accepted, _ = await intake.submit(operator, form, channel=channel, idempotency_key=key)
    except IntakeError as exc:
        return ItemResult(
            index=index,
            status=exc.status,
            tps=form.tps,
            error=ErrorOut.model_validate(exc.body()),
        )
    return ItemResult(
        index=index,
        status=202,
        submission_id=accepted.submission_id,
        status_url=status_url(accepted.submission_id),
        tps=form.tps,
    )


def _raw_tps(raw_form: dict[str, Any] | CHasil) -> str | None:
    value = raw_form.get("tps") if isinstance(raw_form, dict) else raw_form.tps
    return value if isinstance(value, str) else None


def _batch_response(results: list[ItemResult], retry_after_s: int) -> Response:
    accepted = sum(r.status == 202 for r in results)
    body = BatchResult(accepted=accepted, failed=len(results) - accepted, results=results)
    headers = {"Retry-After": str(retry_after_s)} if any(r.status == 503 for r in results) else None
    return Response(
        body.model_dump_json(exclude_none=True),
        status_code=207,
        media_type="application/json",
        headers=headers,
    )


@router.post(
    "/batch",
    status_code=207,
    summary="Send many forms; one result per item (HTTP 207)",
    response_model=BatchResult,
    responses={207: _example(BatchResult), **_AUTH_ERRORS},
)
async def submit_batch(
    batch: BatchIn,
    operator: SubmittingOperator,
    intake: IntakeDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Each item is checked and published on its own, concurrently.

    The answer is always 207 Multi-Status once the envelope is readable: `results[i].status` is
    202 (in Kafka), 403, 422 or 503 for item i, and Retry-After is set when any item got 503. Item
    keys default to `<Idempotency-Key>:<index>`, so resending the whole batch is harmless.
    """
    if len(batch.items) > settings.batch_max_items:
        raise IntakeError(
            422,
            "BATCH_TOO_LARGE",
            f"Terlalu banyak formulir dalam satu batch (paling banyak {settings.batch_max_items}).",
            f"Too many forms in one batch (at most {settings.batch_max_items}).",
        )
    results = await asyncio.gather(
        *(
            _submit_item(
                intake,
                operator,
                index,
                item.form,
                item.idempotency_key or (f"{idempotency_key}:{index}" if idempotency_key else None),
                Channel.BATCH,
            )
            for index, item in enumerate(batch.items)
        )
    )
    return _batch_response(list(results), settings.retry_after_s)


@upload_router.post(
    "/upload",
    status_code=207,
    summary="Upload a kecamatan spreadsheet (CSV or XLSX) of TPS rows for one contest",
    response_model=BatchResult,
    responses={
        207: _example(BatchResult),
        **_AUTH_ERRORS,
        400: {"model": ErrorOut, "description": "Not a readable multipart/form-data body"},
        413: {"model": ErrorOut, "description": "File too large"},
    },
)
async def submit_upload(
    operator: SubmittingOperator,
    intake: IntakeDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV (, ; or tab) or XLSX, header in row 1")],
    election: Annotated[ElectionId, Form(examples=["pemilu-2024"])],
    contest: Annotated[Contest, Form(examples=["PPWP"])],
) -> Response:
    """Every row becomes one form; results are per row, `index` being the sheet's row number.

    Columns (header row, case and spaces ignored): `tps` (16.07.01.1016.001 or 13 digits);
    votes per candidate number (`1`, `2`, `3` or `paslon_1` ...) for PPWP/DPD/Pilkada, or per
    party total (`p1`, `p2` ...) for DPR/DPRD; `sah`; `tidak_sah`; optional `jumlah`. Columns
    `no`, `desa`, `kelurahan`, `nama_desa`, `nama_tps`, `keterangan`, `catatan` are ignored.
    A row's idempotency key is the file's SHA-256 plus its row number: uploading the same file
    again changes nothing.
    """
    data = await file.read(settings.upload_max_bytes + 1)
    if len(data) > settings.upload_max_bytes:
        raise IntakeError(
            413,
            "UPLOAD_TOO_LARGE",
            f"Berkas terlalu besar (paling besar {settings.upload_max_bytes} byte).",
            f"File too large (at most {settings.upload_max_bytes} bytes).",
        )
    try:
        table = read_table(data, file.filename or "")
        rows = rows_to_forms(
            table, election=election, contest=contest, max_rows=settings.upload_max_rows
        )
    except SheetError as exc:
        raise IntakeError(422, exc.code, exc.pesan, exc.message) from exc
    digest = hashlib.sha256(data).hexdigest()[:32]
    results = await asyncio.gather(
        *(
            _submit_item(
                intake, operator, row.row, row.form, f"upload:{digest}:{row.row}", Channel.UPLOAD
            )
            if row.form is not None
            else _row_error(row.row, row.tps, row.errors)
            for row in rows
        )
    )
    return _batch_response(list(results), settings.retry_after_s)


async def _row_error(row: int, tps: str | None, details: Any) -> ItemResult:
    return ItemResult(
        index=row,
        status=422,
        tps=tps or None,
        error=ErrorOut(
            code="INVALID_ROW",
            pesan=f"Baris {row} tidak sah. Kolom: {COLUMNS_HELP.split(' / ')[0]}",
            message=f"Row {row} is not valid. Columns: {COLUMNS_HELP.split(' / ')[1]}",
            details=details,
        ),
    )


@router.get(
    # Only a UUID matches: GET /v1/submissions/upload is 405, another word 404.
    "/{submission_id:uuid}",
    summary="Where a submission is: received, accepted, rejected (with reasons), ...",
    response_model=SubmissionStatus,
    responses={
        200: _example(SubmissionStatus),
        401: _AUTH_ERRORS[401],
        404: {
            "model": ErrorOut,
            "description": "Unknown id (or not a UUID), or not yours to see",
        },
        # Kept so that FastAPI does not document its own 422 shape for the path parameter.
        422: {"model": ErrorOut, "description": "Not valid"},
    },
)
async def submission_status(
    submission_id: uuid.UUID, operator: CurrentOperator, request: Request
) -> Response:
    """From the aggregator's table; an id this process published moments ago reads 'received'."""
    refresher: DirectoryRefresher = request.app.state.refresher
    intake: Intake = request.app.state.intake
    row = None
    if refresher.pool is not None:
        try:
            async with refresher.pool.acquire() as conn:
                row = await repository.fetch_submission(conn, submission_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if intake.cache.recent(submission_id) is None:
                raise IntakeError(
                    503,
                    "DATABASE_UNAVAILABLE",
                    "Status kiriman tidak bisa dibaca sekarang; coba lagi sebentar lagi.",
                    "The submission status cannot be read right now; retry shortly.",
                    retry_after=intake.retry_after_s,
                ) from exc
    if row is not None and may_see_submission(operator, row.operator_id, row.tps):
        status = SubmissionStatus.model_validate(
            {
                "submission_id": row.submission_id,
                "status": row.status,
                "election": row.election,
                "contest": row.contest,
                "tps": row.tps,
                "channel": row.channel,
                "received_at": row.received_at,
                "violations": row.violations,
            }
        )
        return Response(status.model_dump_json(), media_type="application/json")
    recent = intake.cache.recent(submission_id)
    if (
        row is None
        and recent is not None
        and may_see_submission(operator, recent.operator_id, recent.tps)
    ):
        status = SubmissionStatus(
            submission_id=recent.submission_id,
            status="received",
            election=recent.election,
            contest=recent.contest,
            tps=recent.tps,
            channel=recent.channel,
            received_at=recent.received_at,
        )
        return Response(status.model_dump_json(), media_type="application/json")
    raise IntakeError(
        404,
        "SUBMISSION_NOT_FOUND",
        f"Kiriman {submission_id} tidak ditemukan.",
        f"Submission {submission_id} not found.",
    )
