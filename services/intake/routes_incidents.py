"""JSON route for incident reports (laporan kejadian): 202 only once Kafka acknowledged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Header, Request, Response

from services.intake.deps import SubmittingOperator
from services.intake.incident_parser import MAX_MESSAGE_CHARS, read_area
from services.intake.incidents import IncidentAccepted, IncidentIntake
from services.intake.schemas import (
    ErrorOut,
    IncidentAcceptedOut,
    IncidentIn,
    IntakeError,
    JsonResponse,
)
from shared.events import Channel
from shared.incidents import MAX_TEXT_CHARS, category_of, category_words

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Body is not JSON (BODY_UNREADABLE)"},
    401: {"model": ErrorOut, "description": "No token, bad, expired or revoked token"},
    403: {"model": ErrorOut, "description": "Viewer account, or area outside the sender's scope"},
    409: {"model": ErrorOut, "description": "Idempotency-Key already used for another report"},
    422: {
        "model": ErrorOut,
        "description": "Unreadable or unknown TPS/desa code, unknown category, text too long",
    },
    429: {"model": ErrorOut, "description": "Rate limit per operator; see Retry-After"},
    503: {"model": ErrorOut, "description": "Kafka did not acknowledge in time; see Retry-After"},
}


def _bad(code: str, pesan: str, message: str) -> IntakeError:
    return IntakeError(422, code, pesan, message)


def accepted_body(accepted: IncidentAccepted) -> dict[str, Any]:
    """The 202 body, from the remembered outcome so that a replay is byte-identical."""
    return {
        "incident_id": str(accepted.incident_id),
        "status": "received",
        "reported_at": accepted.reported_at.isoformat(),
        "area": accepted.area,
        "category": accepted.category.value,
        "severity": accepted.severity.value,
    }


@router.post(
    "",
    status_code=202,
    summary="Report an incident at a TPS or desa",
    response_model=IncidentAcceptedOut,
    responses={
        202: {
            "content": {
                "application/json": {
                    "example": IncidentAcceptedOut.model_json_schema()["examples"][0]
                }
            }
        },
        **_ERRORS,
    },
)
async def report_incident(
    request: Request,
    report: Annotated[IncidentIn, Body()],
    operator: SubmittingOperator,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Same key and report from the same operator: one incident.",
        ),
    ] = None,
) -> Response:
    """202 once Kafka acknowledged the IncidentReported event; 4xx with a machine code else."""
    area = read_area(report.area)
    if area is None:
        raise _bad(
            "INCIDENT_AREA_CODE",
            f"Kode TPS atau desa tidak terbaca: '{report.area[:40]}'.",
            f"TPS or desa code not readable: '{report.area[:40]}'.",
        )
    category = category_of(report.category)
    if category is None:
        raise _bad(
            "INCIDENT_UNKNOWN_CATEGORY",
            f"Kategori '{report.category[:40]}' tidak dikenal. Pilih: {category_words()}.",
            f"Unknown category '{report.category[:40]}'. Use one of: {category_words()}.",
        )
    text = report.text.strip()
    if not text or len(text) > MAX_TEXT_CHARS or len(report.text) > MAX_MESSAGE_CHARS:
        raise _bad(
            "INCIDENT_TOO_LONG" if text else "INCIDENT_NO_TEXT",
            f"Uraian harus 1 sampai {MAX_TEXT_CHARS} huruf.",
            f"The text must be 1 to {MAX_TEXT_CHARS} characters.",
        )
    incidents: IncidentIntake = request.app.state.incidents
    accepted, _ = await incidents.report(
        operator,
        area=area,
        category=category,
        text=text,
        channel=Channel.API,
        idempotency_key=idempotency_key,
    )
    return JsonResponse(accepted_body(accepted), status_code=202)


def install(app: FastAPI, incidents: IncidentIntake) -> None:
    """Serve the incident route with this core (the WhatsApp and SMS webhooks use it too)."""
    app.state.incidents = incidents
    app.include_router(router)
