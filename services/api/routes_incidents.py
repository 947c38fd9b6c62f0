"""Routes: incidents (feed, counts, a TPS's, acknowledge / follow-up / close, export), desk
alerts (list, acknowledge) and the desk's live stream (/v1/desk/events, LISTEN deskpemilu_desk).

Reads need any valid token. An incident's acknowledge, follow-up and close are writes: a camat
inside their area or an admin (shared.policy.review_refusal), published as IncidentUpdated
events to incidents.v1 (202 only after Kafka's ack) and recorded by the aggregator, so
`rebuild` reproduces them. An alert's acknowledgement is stored directly: alerts are the
screener's derived state (like its findings), not part of the log.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from sse_starlette import EventSourceResponse

from services.api.deps import CurrentReviewer, CurrentViewer, StateDep, StreamClaims
from services.api.downloads import FILE_DOC, KindPath, table_download
from services.api.errors import ApiError, not_found, refusal_error
from services.api.incident_exports import incidents_table
from services.api.live import STREAM_DOC, ChangeFeed, event_stream
from services.api.publisher import PublishUnavailable
from services.api.repository_incidents import (
    acknowledge_alert,
    fetch_alert,
    fetch_alerts,
    fetch_incident,
    fetch_incident_counts,
    fetch_incident_updates,
    fetch_incidents,
    fetch_tps_incidents,
)
from services.api.routes_tps import TpsPath, tps_code_or_422
from services.api.schemas import READ_ERRORS, error_responses
from services.api.schemas_incidents import (
    AlertAckIn,
    AlertListPublic,
    AlertPublic,
    IncidentActionIn,
    IncidentActionQueuedPublic,
    IncidentCountPublic,
    IncidentCountsPublic,
    IncidentDetailPublic,
    IncidentListPublic,
    IncidentPublic,
    IncidentUpdatePublic,
)
from shared.codec import encode
from shared.db import from_row
from shared.events import IncidentUpdated, incident_update_id_for, utcnow
from shared.incidents import (
    SPEC_OF,
    IncidentAction,
    IncidentCategory,
    IncidentSeverity,
    IncidentStatus,
    next_status,
)
from shared.notify import DeskChanged
from shared.policy import covers, review_refusal

router = APIRouter(prefix="/v1", tags=["incidents"], responses=READ_ERRORS)

StatusFilter = Literal["open", "acknowledged", "followed_up", "closed", "unresolved"]


def install(app: FastAPI, database_url: str) -> ChangeFeed:
    """Serve the routes; the desk feed (LISTEN deskpemilu_desk) is started in the lifespan."""
    feed = ChangeFeed(database_url, DeskChanged.CHANNEL, lambda: None)
    app.state.desk_feed = feed
    app.include_router(router)
    return feed


def _name(state: StateDep, code: str) -> str | None:
    area = state.roster.areas.get(code)
    return area.name if area else None


def _public(state: StateDep, row: asyncpg.Record) -> IncidentPublic:
    category = IncidentCategory(row["category"])
    return from_row(
        IncidentPublic,
        row,
        area=row["area_code"],
        desa=row["desa_code"],
        desa_name=_name(state, row["desa_code"]),
        kecamatan=row["kecamatan_code"],
        kecamatan_name=_name(state, row["kecamatan_code"]),
        category=category.value,
        category_name=SPEC_OF[category].name,
    )


async def _list(
    state: StateDep,
    area: str | None,
    status: str | None,
    severity: IncidentSeverity | None,
    order: str,
    limit: int,
) -> list[IncidentPublic]:
    async with state.pool.acquire() as conn:
        rows = await fetch_incidents(
            conn,
            area=area,
            status=status,
            severity=severity.value if severity else None,
            order=order,
            limit=limit,
        )
    return [_public(state, r) for r in rows]


AreaQuery = Annotated[
    str | None,
    Query(
        pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4}(\.\d{3})?)?)?)?$",
        description="only incidents in this area (kabupaten, kecamatan, desa or TPS code)",
    ),
]


@router.get("/incidents", response_model=IncidentListPublic)
async def list_incidents(
    state: StateDep,
    _viewer: CurrentViewer,
    area: AreaQuery = None,
    status: StatusFilter | None = None,
    severity: IncidentSeverity | None = None,
    order: Literal["newest", "severity"] = "newest",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> IncidentListPublic:
    """The incident feed: newest first, or most severe first (then newest)."""
    return IncidentListPublic(incidents=await _list(state, area, status, severity, order, limit))


@router.get("/incidents/counts", response_model=IncidentCountsPublic)
async def incident_counts(state: StateDep, _viewer: CurrentViewer) -> IncidentCountsPublic:
    """Per kecamatan: incidents by severity, unresolved and open ones."""
    async with state.pool.acquire() as conn:
        rows = await fetch_incident_counts(conn)
    return IncidentCountsPublic(
        kecamatan=[
            from_row(
                IncidentCountPublic,
                r,
                kecamatan=r["kecamatan_code"],
                name=_name(state, r["kecamatan_code"]),
            )
            for r in rows
        ]
    )


@router.get(
    "/incidents/export.{kind}", response_class=Response, responses={**FILE_DOC, **READ_ERRORS}
)
async def export_incidents(
    kind: KindPath,
    state: StateDep,
    _viewer: CurrentViewer,
    area: AreaQuery = None,
    status: StatusFilter | None = None,
) -> Response:
    """Every incident (up to API_EXPORT_MAX_ROWS), newest first, as CSV or XLSX."""
    rows = await _list(state, area, status, None, "newest", state.settings.export_max_rows)
    return await table_download(kind, f"kejadian-{area or 'semua'}", incidents_table(rows))


@router.get("/incidents/tps/{tps}", response_model=IncidentListPublic)
async def tps_incidents(
    state: StateDep, _viewer: CurrentViewer, tps: TpsPath
) -> IncidentListPublic:
    """The incidents reported at a TPS (and at its desa as a whole), newest first."""
    code = tps_code_or_422(tps)
    async with state.pool.acquire() as conn:
        rows = await fetch_tps_incidents(conn, code)
    return IncidentListPublic(incidents=[_public(state, r) for r in rows])


@router.get("/incidents/{incident_id}", response_model=IncidentDetailPublic)
async def incident_detail(
    incident_id: uuid.UUID, state: StateDep, _viewer: CurrentViewer
) -> IncidentDetailPublic:
    """One incident with its acknowledge / follow-up / close history."""
    async with state.pool.acquire() as conn:
        row = await fetch_incident(conn, incident_id)
        if row is None:
            raise not_found(f"Kejadian {incident_id}", f"Incident {incident_id}")
        updates = await fetch_incident_updates(conn, incident_id)
    return IncidentDetailPublic(
        **_public(state, row).model_dump(),
        updates=[IncidentUpdatePublic(**dict(u)) for u in updates],
    )


_ACTION_TEXT = {
    IncidentAction.ACKNOWLEDGE: ("diterima desk", "acknowledged"),
    IncidentAction.FOLLOW_UP: ("ditindaklanjuti", "followed up"),
    IncidentAction.CLOSE: ("ditutup", "closed"),
}


async def _act(
    state: StateDep,
    request: Request,
    reviewer: CurrentReviewer,
    incident_id: uuid.UUID,
    action: IncidentAction,
    note: str,
) -> Response:
    async with state.pool.acquire() as conn:
        row = await fetch_incident(conn, incident_id)
    if row is None:
        raise not_found(f"Kejadian {incident_id}", f"Incident {incident_id}")
    refused = review_refusal(reviewer, row["area_code"])
    if refused is not None:
        raise refusal_error(refused)
    if next_status(IncidentStatus(row["status"]), action) is None:
        raise ApiError(
            409,
            "INCIDENT_CLOSED",
            "Kejadian ini sudah ditutup; tidak bisa diubah lagi.",
            "This incident is closed; it cannot change any more.",
        )
    key = request.headers.get("idempotency-key")
    event = IncidentUpdated(
        update_id=incident_update_id_for(reviewer.id, key) if key else uuid.uuid4(),
        incident_id=incident_id,
        updated_at=utcnow(),
        by=reviewer,
        area=row["area_code"],
        action=action,
        note=note.strip(),
    )
    try:
        await state.publisher.send(
            state.settings.topics.incidents, str(incident_id).encode(), encode(event)
        )
    except PublishUnavailable as exc:
        raise ApiError(
            503,
            "KAFKA_UNAVAILABLE",
            "Tindakan belum tersimpan, coba lagi sebentar lagi.",
            "The action was not stored; try again shortly.",
            headers={"Retry-After": "5"},
        ) from exc
    done_id, done_en = _ACTION_TEXT[action]
    body = IncidentActionQueuedPublic(
        update_id=event.update_id,
        incident_id=incident_id,
        action=action.value,
        pesan=f"Kejadian {done_id}; tampil di daftar setelah diproses.",
        message=f"Incident {done_en}; it shows in the feed once recorded.",
    )
    return Response(body.model_dump_json(), status_code=202, media_type="application/json")


_WRITE = error_responses(400, 401, 403, 404, 409, 422, 503)


def _action_route(path: str, action: IncidentAction, doc: str) -> None:
    """The POST route of one action, documented as if written out (name, summary, docstring)."""

    async def endpoint(
        incident_id: uuid.UUID,
        body: IncidentActionIn,
        request: Request,
        state: StateDep,
        reviewer: CurrentReviewer,
    ) -> Response:
        return await _act(state, request, reviewer, incident_id, action, body.note)

    endpoint.__name__ = endpoint.__qualname__ = f"{action.value}_incident"
    endpoint.__doc__ = doc
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        status_code=202,
        response_model=IncidentActionQueuedPublic,
        responses=_WRITE,
    )


_action_route(
    "/incidents/{incident_id}/acknowledge",
    IncidentAction.ACKNOWLEDGE,
    "A camat (their area) or admin has seen the incident; 202 once Kafka acknowledged.",
)
_action_route(
    "/incidents/{incident_id}/follow-up",
    IncidentAction.FOLLOW_UP,
    "A note on what the desk did about it; 202 once Kafka acknowledged.",
)
_action_route(
    "/incidents/{incident_id}/close",
    IncidentAction.CLOSE,
    "The incident is settled; 202 once Kafka acknowledged.",
)


def _alert_public(state: StateDep, row: asyncpg.Record) -> AlertPublic:
    details = row["details"]
    return AlertPublic(
        alert_id=row["alert_id"],
        rule=row["rule"],
        severity=row["severity"],
        area=row["area_code"],
        area_name=_name(state, row["area_code"]) if row["area_code"] else None,
        pesan=row["pesan"],
        message=row["message"],
        details=orjson.loads(details) if isinstance(details, str) else dict(details),
        raised_at=row["raised_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        ack_note=row["ack_note"],
        notified_at=row["notified_at"],
    )


AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the alert's number")]


@router.get("/alerts", response_model=AlertListPublic, tags=["alerts"])
async def list_alerts(
    state: StateDep,
    _viewer: CurrentViewer,
    open_only: Annotated[bool, Query(alias="open", description="only unacknowledged")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertListPublic:
    """Desk alerts, newest first: the dashboard's banner shows those not acknowledged."""
    async with state.pool.acquire() as conn:
        rows = await fetch_alerts(conn, open_only=open_only, limit=limit)
    return AlertListPublic(alerts=[_alert_public(state, r) for r in rows])


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertPublic,
    tags=["alerts"],
    responses=error_responses(400, 401, 403, 404, 422, 503),
)
async def acknowledge(
    alert_id: AlertId, body: AlertAckIn, state: StateDep, reviewer: CurrentReviewer
) -> AlertPublic:
    """A camat (an alert of their kecamatan) or an admin (any) acknowledges; the banner goes."""
    async with state.pool.acquire() as conn:
        row = await fetch_alert(conn, alert_id)
        if row is None:
            raise not_found(f"Peringatan {alert_id}", f"Alert {alert_id}")
        area = row["area_code"]
        if not covers(reviewer.scope, reviewer.role, area):
            raise ApiError(
                403,
                "ALERT_SCOPE_OUTSIDE",
                "Peringatan ini di luar wilayah tugas Anda (peringatan desk: hanya admin).",
                "This alert is outside your area (desk-wide alerts: admin only).",
            )
        row = await acknowledge_alert(conn, alert_id, reviewer.id, body.note.strip())
    assert row is not None
    return _alert_public(state, row)


@router.get(
    "/desk/events",
    response_class=EventSourceResponse,
    responses=STREAM_DOC,
)
async def desk_events(
    request: Request,
    state: StateDep,
    claims: StreamClaims,
    token: Annotated[str | None, Query(description="the bearer token, for EventSource")] = None,
) -> EventSourceResponse:
    """'hello', then 'changed' whenever incidents or alerts change; ': ping' when idle."""
    del token  # read by the StreamClaims dependency
    feed: ChangeFeed = request.app.state.desk_feed
    return event_stream(feed, state.settings, claims, lambda: state.revoked)
