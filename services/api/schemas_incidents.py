"""Response and request models of the incident and desk-alert routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.incidents import MAX_NOTE_CHARS


class IncidentPublic(BaseModel):
    """One incident as the dashboard shows it."""

    incident_id: uuid.UUID
    reported_at: datetime
    channel: str
    operator_id: str
    operator_name: str
    area: str
    tps: str | None
    desa: str
    desa_name: str | None
    kecamatan: str
    kecamatan_name: str | None
    category: str
    category_name: str
    severity: str
    text: str
    status: str
    updated_at: datetime
    updated_by: str | None


class IncidentUpdatePublic(BaseModel):
    """One acknowledge, follow-up or close, with who did it."""

    update_id: uuid.UUID
    updated_at: datetime
    by_id: str
    by_name: str
    by_role: str
    action: str
    note: str
    applied: bool
    status_after: str


class IncidentDetailPublic(IncidentPublic):
    """An incident with its history."""

    updates: list[IncidentUpdatePublic]


class IncidentListPublic(BaseModel):
    """Incidents, newest first (or most severe first)."""

    incidents: list[IncidentPublic]


class IncidentCountPublic(BaseModel):
    """Incidents of one kecamatan."""

    kecamatan: str
    name: str | None
    total: int
    unresolved: int
    open: int
    critical: int
    high: int
    medium: int
    low: int
    last_reported_at: datetime | None


class IncidentCountsPublic(BaseModel):
    """Per kecamatan counts."""

    kecamatan: list[IncidentCountPublic]


class IncidentActionIn(BaseModel):
    """Body of an acknowledge, follow-up or close."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "PPS mengirim 20 surat suara tambahan."}]},
    )

    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


class IncidentActionQueuedPublic(BaseModel):
    """202: the update is in Kafka; the incident shows it once recorded."""

    update_id: uuid.UUID
    incident_id: uuid.UUID
    action: str
    pesan: str
    message: str


class AlertPublic(BaseModel):
    """One desk alert."""

    alert_id: int
    rule: str
    severity: str
    area: str
    area_name: str | None
    pesan: str
    message: str
    details: dict[str, Any]
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str
    notified_at: datetime | None


class AlertListPublic(BaseModel):
    """Desk alerts, newest first."""

    alerts: list[AlertPublic]


class AlertAckIn(BaseModel):
    """Body of an alert acknowledgement."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=MAX_NOTE_CHARS)
