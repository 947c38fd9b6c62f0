"""Routes: a camat (in their area) or an admin accepts a version of a TPS or marks it verified."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Request, Response

from services.api.deps import (
    CurrentReviewer,
    StateDep,
    contest_or_404,
    election_or_404,
)
from services.api.errors import ApiError, not_found, refusal_error
from services.api.publisher import PublishUnavailable
from services.api.repository import (
    fetch_result_status,
    fetch_submission_place,
    fetch_tps_roster,
)
from services.api.routes_tps import tps_code_or_422
from services.api.schemas import AcceptIn, ErrorPublic, ReviewQueuedPublic, VerifyIn
from shared.events import OperatorRef, ReviewDecided, utcnow
from shared.form import Contest
from shared.hotpath import HotRoute
from shared.policy import review_refusal

router = APIRouter(prefix="/v1/review", tags=["review"], route_class=HotRoute)

# Fixed namespace: (reviewer, Idempotency-Key) always gives the same decision id, so a retried
# click after a timeout is applied once by the aggregator.
REVIEW_NAMESPACE = uuid.UUID("b7c3a0e2-5d0e-4c55-8f6a-2a1f3e9d7c10")
RETRY_AFTER_S = "5"
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorPublic},
    403: {"model": ErrorPublic},
    404: {"model": ErrorPublic},
    409: {"model": ErrorPublic},
    503: {"model": ErrorPublic},
}


def decision_id_for(reviewer_id: str, idempotency_key: str | None) -> uuid.UUID:
    """Deterministic id for a keyed request, random otherwise."""
    if idempotency_key:
        return uuid.uuid5(REVIEW_NAMESPACE, f"{reviewer_id}\n{idempotency_key}")
    return uuid.uuid4()


def review_forbidden(reviewer: OperatorRef, tps: str) -> ApiError | None:
    """The 403 for a reviewer who may not decide on this TPS (shared.policy, as the validator).

    An admin is held to their scope like a camat: an admin token with a scope that answered 202
    here would be rejected by the validator, the decision lost after the reviewer was told yes.
    """
    refused = review_refusal(reviewer, tps)
    return None if refused is None else refusal_error(refused)


async def _checked_place(
    state: StateDep, reviewer: OperatorRef, election: str, contest: str, tps: str
) -> str:
    election_meta = await election_or_404(state, election)
    contest_or_404(election_meta, contest)
    code = tps_code_or_422(tps)
    refused = review_forbidden(reviewer, code)
    if refused is not None:
        raise refused
    async with state.pool.acquire() as conn:
        if await fetch_tps_roster(conn, election=election, tps=code) is None:
            raise not_found(f"TPS {code} di {election}", f"TPS {code} in {election}")
    return code


async def _publish(
    state: StateDep,
    request: Request,
    reviewer: OperatorRef,
    *,
    election: str,
    contest: str,
    tps: str,
    action: Literal["accept_version", "verify", "release", "reject"],
    submission_id: uuid.UUID | None,
    note: str,
) -> Response:
    decision = ReviewDecided(
        decision_id=decision_id_for(reviewer.id, request.headers.get("idempotency-key")),
        decided_at=utcnow(),
        reviewer=reviewer,
        election=election,
        contest=Contest(contest),
        tps=tps,
        action=action,
        submission_id=submission_id,
        note=note.strip(),
    )
    try:
        await state.publisher.publish(decision)
    except PublishUnavailable as exc:
        raise ApiError(
            503,
            "KAFKA_UNAVAILABLE",
            "Keputusan belum tersimpan, coba lagi sebentar lagi.",
            "The decision was not stored; try again shortly.",
            headers={"Retry-After": RETRY_AFTER_S},
        ) from exc
    body = ReviewQueuedPublic(
        decision_id=decision.decision_id,
        action=action,
        pesan="Keputusan diterima; tampil di riwayat TPS setelah diproses.",
        message="Decision accepted; it shows in the TPS history once processed.",
    )
    return Response(body.model_dump_json(), status_code=202, media_type="application/json")


@router.post(
    "/{election}/{contest}/{tps}/accept",
    status_code=202,
    response_model=ReviewQueuedPublic,
    responses=_ERRORS,
)
async def accept_version(
    election: str,
    contest: str,
    tps: str,
    body: AcceptIn,
    request: Request,
    state: StateDep,
    reviewer: CurrentReviewer,
) -> Response:
    """Count this version of a (disputed) TPS; answered 202 once Kafka acknowledged it."""
    code = await _checked_place(state, reviewer, election, contest, tps)
    async with state.pool.acquire() as conn:
        place = await fetch_submission_place(conn, body.submission_id)
    if place is None or (place["election"], place["contest"], place["tps"]) != (
        election,
        contest,
        code,
    ):
        raise ApiError(
            409,
            "SUBMISSION_NOT_FOR_TPS",
            f"Kiriman {body.submission_id} bukan untuk {contest} TPS {code}.",
            f"Submission {body.submission_id} is not for {contest} at TPS {code}.",
        )
    if place["status"] == "rejected":
        raise ApiError(
            409,
            "SUBMISSION_REJECTED",
            "Kiriman ini ditolak validasi dan tidak bisa dihitung.",
            "This submission failed validation and cannot be counted.",
        )
    return await _publish(
        state,
        request,
        reviewer,
        election=election,
        contest=contest,
        tps=code,
        action="accept_version",
        submission_id=body.submission_id,
        note=body.note,
    )


@router.post(
    "/{election}/{contest}/{tps}/verify",
    status_code=202,
    response_model=ReviewQueuedPublic,
    responses=_ERRORS,
)
async def verify(
    election: str,
    contest: str,
    tps: str,
    body: VerifyIn,
    request: Request,
    state: StateDep,
    reviewer: CurrentReviewer,
) -> Response:
    """Mark the TPS's counted result as checked; answered 202 once Kafka acknowledged it."""
    code = await _checked_place(state, reviewer, election, contest, tps)
    async with state.pool.acquire() as conn:
        status = await fetch_result_status(conn, election=election, contest=contest, tps=code)
    if status is None:
        raise ApiError(
            409,
            "NO_RESULT",
            f"Belum ada hasil {contest} dari TPS {code} untuk diverifikasi.",
            f"No {contest} result from TPS {code} to verify yet.",
        )
    return await _publish(
        state,
        request,
        reviewer,
        election=election,
        contest=contest,
        tps=code,
        action="verify",
        submission_id=None,
        note=body.note,
    )
