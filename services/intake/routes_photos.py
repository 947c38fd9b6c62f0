"""Photo upload for the app and API: a multipart C.Hasil photo for a submission or a TPS."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel

from services.intake import repository
from services.intake.deps import SubmittingOperator
from services.intake.directory import DirectoryRefresher
from services.intake.photos import PhotoAccepted, PhotoIntake, PhotoTarget, read_back
from services.intake.schemas import ErrorOut, IntakeError, JsonResponse
from shared.events import Channel
from shared.form import Contest
from shared.policy import may_see_submission

router = APIRouter(prefix="/v1/photos", tags=["photos"])


class PhotoAcceptedOut(BaseModel):
    """202: the photo is stored (blob store) and its metadata acknowledged by Kafka."""

    photo_id: uuid.UUID
    sha256: str
    status: str = "stored"
    election: str
    contest: str
    tps: str
    submission_id: uuid.UUID | None
    pesan: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No token, bad, expired or revoked token"},
    403: {"model": ErrorOut, "description": "Viewer, or TPS outside the operator's area"},
    404: {"model": ErrorOut, "description": "Submission not known (yet)"},
    413: {"model": ErrorOut, "description": "Photo larger than the limit"},
    415: {"model": ErrorOut, "description": "Not a JPEG, PNG, WebP or HEIC image"},
    422: {"model": ErrorOut, "description": "Damaged/truncated photo, dimensions, missing target"},
    503: {"model": ErrorOut, "description": "Blob store or Kafka unavailable; nothing stored"},
}


def accepted_out(accepted: PhotoAccepted) -> dict[str, Any]:
    """The 202 body of a stored photo."""
    target = accepted.target
    return PhotoAcceptedOut(
        photo_id=accepted.photo_id,
        sha256=accepted.sha256,
        election=target.election,
        contest=target.contest,
        tps=target.tps,
        submission_id=target.submission_id,
        pesan=read_back(target),
    ).model_dump(mode="json")


def _missing_target() -> IntakeError:
    return IntakeError(
        422,
        "PHOTO_TARGET_MISSING",
        "Sebutkan submission_id, atau election, contest dan tps.",
        "Give submission_id, or election, contest and tps.",
    )


async def _target_of_submission(
    request: Request, submission_id: uuid.UUID, operator: Any
) -> PhotoTarget:
    refresher: DirectoryRefresher = request.app.state.refresher
    intake = request.app.state.intake
    recent = intake.cache.recent(submission_id)
    if recent is not None and recent.operator_id == operator.id:
        return PhotoTarget(recent.election, recent.contest, recent.tps, submission_id)
    row = None
    if refresher.pool is not None:
        async with refresher.pool.acquire() as conn:
            row = await repository.fetch_submission(conn, submission_id)
    if row is None or not may_see_submission(operator, row.operator_id, row.tps):
        raise IntakeError(
            404,
            "SUBMISSION_NOT_FOUND",
            "Kiriman itu tidak dikenal (atau belum tercatat); coba lagi sebentar lagi.",
            "That submission is not known (or not recorded yet); retry shortly.",
        )
    return PhotoTarget(row.election, row.contest, row.tps, submission_id)


@router.post(
    "",
    status_code=202,
    summary="Attach a C.Hasil photo to a submission or to a TPS and contest",
    response_model=PhotoAcceptedOut,
    responses=_ERRORS,
)
async def upload_photo(
    request: Request,
    operator: SubmittingOperator,
    photo: Annotated[UploadFile, File(description="JPEG, PNG, WebP or HEIC photo of the C.Hasil")],
    submission_id: Annotated[uuid.UUID | None, Form()] = None,
    election: Annotated[str | None, Form()] = None,
    contest: Annotated[Contest | None, Form()] = None,
    tps: Annotated[str | None, Form(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}\.\d{3}$")] = None,
) -> Response:
    """202 once the bytes are in the blob store and the metadata acknowledged by Kafka.

    The same bytes for the same TPS and contest are one photo (same photo_id).
    """
    photos: PhotoIntake = request.app.state.photos
    if submission_id is not None:
        target = await _target_of_submission(request, submission_id, operator)
    elif election and contest is not None and tps:
        target = PhotoTarget(election, contest.value, tps)
    else:
        raise _missing_target()
    data = await photo.read(photos.limits.max_bytes + 1)
    accepted = await photos.accept(operator, data, target, channel=Channel.API)
    return JsonResponse(accepted_out(accepted), status_code=202)
