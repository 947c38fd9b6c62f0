"""Request and response models of the intake routes, with the examples shown in the OpenAPI docs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ErrorDetail, HttpError
from shared.events import Channel, Violation

EXAMPLE_FORM: dict[str, Any] = {
    "election": "pemilu-2024",
    "contest": "PPWP",
    "tps": "16.07.01.1016.001",
    "suara_calon": {"1": 120, "2": 250, "3": 80},
    "suara_sah": 450,
    "suara_tidak_sah": 5,
}
EXAMPLE_PARTY_FORM: dict[str, Any] = {
    "election": "pemilu-2024",
    "contest": "DPR",
    "tps": "1607011016002",
    "suara_partai": [
        {"nomor_partai": 1, "suara_partai": 10, "suara_calon": {"1": 15, "2": 5}, "jumlah": 30},
        {"nomor_partai": 2, "suara_partai": 12, "jumlah": 12},
    ],
    "suara_sah": 42,
    "suara_tidak_sah": 3,
}
EXAMPLE_SUBMISSION_ID = "6b2f0f8e-5f4e-5c3a-9d57-0b7d8f1c2a10"


class ErrorOut(BaseModel):
    """Every error body: stable machine code, Indonesian and English text, per-field details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "SCOPE_OUTSIDE",
                    "pesan": "TPS 16.07.02.2001.001 di luar wilayah tugas Anda (16.07.01).",
                    "message": "TPS 16.07.02.2001.001 is outside your area (16.07.01).",
                    "details": [],
                }
            ]
        }
    )

    code: str
    pesan: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class IntakeError(HttpError):
    """An answer other than success, raised on the request path and rendered as ErrorOut."""

    def headers(self) -> dict[str, str] | None:
        """Retry-After for 429 and 503, else nothing."""
        return self.response_headers or None


class SubmissionAccepted(BaseModel):
    """The 202 answer: the form is in Kafka under this id; follow status_url for its fate."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": EXAMPLE_SUBMISSION_ID,
                    "status": "received",
                    "status_url": f"/v1/submissions/{EXAMPLE_SUBMISSION_ID}",
                    "received_at": "2024-02-14T13:05:11.120Z",
                    "election": "pemilu-2024",
                    "contest": "PPWP",
                    "tps": "16.07.01.1016.001",
                }
            ]
        }
    )

    submission_id: uuid.UUID
    status: Literal["received"] = "received"
    status_url: str
    received_at: datetime
    election: str
    contest: str
    tps: str


class BatchItemIn(BaseModel):
    """One form of a batch, with its own idempotency key (else header key + ':' + index)."""

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    # Validated item by item in the route, so that one malformed form fails alone.
    form: dict[str, Any]


class BatchIn(BaseModel):
    """Many forms in one request; each gets its own result."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"idempotency_key": "hp-andi-0001", "form": EXAMPLE_FORM},
                        {"idempotency_key": "hp-andi-0002", "form": EXAMPLE_PARTY_FORM},
                    ]
                }
            ]
        }
    )

    items: list[BatchItemIn] = Field(min_length=1)


class ItemResult(BaseModel):
    """The result of one batch item or sheet row: its own HTTP-like status."""

    index: int  # position in the batch, or the sheet's row number (header is row 1)
    status: int  # 202, 403, 409, 422, 429 or 503
    submission_id: uuid.UUID | None = None
    status_url: str | None = None
    tps: str | None = None
    error: ErrorOut | None = None


class BatchResult(BaseModel):
    """Answer of the batch and upload routes (HTTP 207): one result per item, in order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 1,
                    "failed": 1,
                    "results": [
                        {
                            "index": 0,
                            "status": 202,
                            "submission_id": EXAMPLE_SUBMISSION_ID,
                            "status_url": f"/v1/submissions/{EXAMPLE_SUBMISSION_ID}",
                            "tps": "16.07.01.1016.001",
                        },
                        {
                            "index": 1,
                            "status": 422,
                            "error": {
                                "code": "INVALID_REQUEST",
                                "pesan": "Isian tidak sah.",
                                "message": "The request is not valid.",
                                "details": [
                                    {
                                        "field": "suara_sah",
                                        "code": "missing",
                                        "pesan": "wajib diisi",
                                        "message": "Field required",
                                    }
                                ],
                            },
                        },
                    ],
                }
            ]
        }
    )

    accepted: int
    failed: int
    results: list[ItemResult]


class SubmissionStatus(BaseModel):
    """Where a submission is: received (in Kafka), accepted, rejected (with reasons), ..."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": EXAMPLE_SUBMISSION_ID,
                    "status": "rejected",
                    "election": "pemilu-2024",
                    "contest": "PPWP",
                    "tps": "16.07.01.1016.001",
                    "channel": "api",
                    "received_at": "2024-02-14T13:05:11.120Z",
                    "violations": [
                        {
                            "code": "SUM_SAH",
                            "severity": "error",
                            "pesan": "Jumlah suara paslon (450) tidak sama dengan suara sah (460).",
                            "message": "Candidate votes (450) do not add up to valid votes (460).",
                            "field": "suara_sah",
                        }
                    ],
                }
            ]
        }
    )

    submission_id: uuid.UUID
    status: str  # received | accepted | rejected | duplicate | revision | conflict | superseded
    election: str
    contest: str
    tps: str
    channel: Channel
    received_at: datetime
    violations: list[Violation] = Field(default_factory=list)


class JsonResponse(JSONResponse):
    """JSON rendered by orjson (FastAPI's ORJSONResponse is deprecated and warns).

    A JSONResponse, so that the OpenAPI shows each route's response model (not a string).
    """

    def render(self, content: Any) -> bytes:
        """Serialise with orjson: datetimes and UUIDs natively."""
        return orjson.dumps(content)


class IncidentIn(BaseModel):
    """One incident report (laporan kejadian) from the app or another JSON client."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "area": "16.07.01.1016.001",
                    "category": "logistik",
                    "text": "Surat suara PPWP kurang 20 lembar; PPS sudah dihubungi.",
                }
            ]
        },
    )

    area: str = Field(
        min_length=10,
        max_length=40,
        description="TPS code (13 digits, dots optional) or desa code (10 digits)",
    )
    category: str = Field(
        min_length=1,
        max_length=40,
        description="kericuhan, intimidasi, logistik, petugas, bencana, psu or lainnya "
        "(common synonyms such as 'politik uang' or 'banjir' are understood)",
    )
    text: str = Field(min_length=1, max_length=5000, description="What happened (<= 1000 chars)")


class IncidentAcceptedOut(BaseModel):
    """The 202 answer: the report is in Kafka under this id, with its default severity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "incident_id": "0b4a6a8e-1f3e-5d2c-8a77-3c9d1e2f4b60",
                    "status": "received",
                    "reported_at": "2024-02-14T10:05:11.120Z",
                    "area": "16.07.01.1016.001",
                    "category": "logistik",
                    "severity": "high",
                }
            ]
        }
    )

    incident_id: uuid.UUID
    status: Literal["received"] = "received"
    reported_at: datetime
    area: str
    category: str
    severity: str
