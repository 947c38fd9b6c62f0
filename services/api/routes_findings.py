"""Routes: findings of the screens across TPS and the forensics panel (both advisory)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.api import tables
from services.api.deps import (
    CurrentReviewer,
    CurrentViewer,
    StateDep,
    checked_or_404,
)
from services.api.downloads import CSV_DOC, FileKind, table_download
from services.api.errors import ApiError
from services.api.forensics import TpsRow, fingerprint, last_digits, quarantine_risk
from services.api.repository_findings import (
    fetch_findings,
    fetch_forensic_rows,
    fetch_quarantine,
)
from services.api.routes_review import _checked_place, _publish
from services.api.routes_tps import TpsPath
from services.api.schemas import READ_ERRORS, ReviewQueuedPublic, error_responses
from shared.db import from_row
from shared.screens import CODES, Severity

router = APIRouter(prefix="/v1", tags=["findings"], responses=READ_ERRORS)


class FindingPublic(BaseModel):
    """One finding: what tripped it, against what, in Indonesian and English."""

    contest: str
    tps: str  # TPS code, or the kecamatan code for an area-wide screen
    desa: str | None
    kecamatan_code: str
    kecamatan: str | None
    code: str
    severity: Literal["info", "warning", "critical"]
    action: Literal["flag", "hold"]
    value: dict[str, Any]
    reference: dict[str, Any]
    pesan: str
    message: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class KecamatanCountPublic(BaseModel):
    """Findings of one kecamatan under the filters."""

    kecamatan_code: str
    kecamatan: str | None
    total: int
    critical: int
    tps: int


class FindingListPublic(BaseModel):
    """Findings (most severe, most recent first), with counts per kecamatan and per code."""

    election: str
    advisory: str
    total: int
    findings: list[FindingPublic]
    by_kecamatan: list[KecamatanCountPublic]
    by_code: dict[str, int]


ADVISORY = (
    "Temuan penyaringan bersifat petunjuk, bukan bukti / Screen findings are advisory, not proof"
)


@router.get("/findings/{election}", response_model=FindingListPublic)
async def list_findings(
    election: str,
    state: StateDep,
    _viewer: CurrentViewer,
    contest: str | None = None,
    area: Annotated[str | None, Query(description="area code: findings under it")] = None,
    code: Annotated[str | None, Query(description="screen code, e.g. IDENTICAL_VOTES")] = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    status: Literal["open", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> FindingListPublic:
    """Findings of the screens across TPS; open ones by default."""
    await checked_or_404(state, election, contest, area)
    if code is not None and code not in CODES:
        raise ApiError(
            422,
            "FINDING_CODE_UNKNOWN",
            f"Kode temuan {code} tidak dikenal (pilihan: {', '.join(CODES)})",
            f"Unknown finding code {code} (one of: {', '.join(CODES)})",
        )
    async with state.pool.acquire() as conn:
        rows, by_kec, by_code = await fetch_findings(
            conn,
            election=election,
            contest=contest,
            area=area,
            code=code,
            severity=Severity(severity).value if severity else None,
            open_only=status == "open",
            limit=limit,
        )
    areas = state.roster.areas

    def name(code: str) -> str | None:
        area_row = areas.get(code)
        return area_row.name if area_row else None

    findings = _findings_public(rows, name)
    return FindingListPublic(
        election=election,
        advisory=ADVISORY,
        total=sum(r["total"] for r in by_code),
        findings=findings,
        by_kecamatan=[
            KecamatanCountPublic(
                kecamatan_code=r["kecamatan"],
                kecamatan=name(r["kecamatan"]),
                total=r["total"],
                critical=r["critical"],
                tps=r["tps"],
            )
            for r in by_kec
        ],
        by_code={r["code"]: r["total"] for r in by_code},
    )


class ForensicsPublic(BaseModel):
    """The fingerprint and last-digit test of one area and contest (advisory)."""

    election: str
    contest: str
    area: str
    advisory: str
    fingerprint: dict[str, Any]
    last_digits: dict[str, Any]


FORENSICS_ADVISORY = (
    "Uji forensik hanya petunjuk: pola wajar bisa tampak janggal dan sebaliknya / "
    "Forensic tests are advisory: honest counts can look odd and the reverse"
)


@router.get("/forensics/{election}/{contest}/{area}", response_model=ForensicsPublic)
async def forensics(
    election: str, contest: str, area: str, state: StateDep, _viewer: CurrentViewer
) -> ForensicsPublic:
    """Turnout x winner's share histogram and last digits of the TPS results under an area."""
    await checked_or_404(state, election, contest, area)
    async with state.pool.acquire() as conn:
        records = await fetch_forensic_rows(conn, election=election, contest=contest, area=area)
    rows = [TpsRow(votes=r["votes"], voters=r["voters"], dpt=r["dpt"]) for r in records]
    return ForensicsPublic(
        election=election,
        contest=contest,
        area=area,
        advisory=FORENSICS_ADVISORY,
        fingerprint=fingerprint(rows),
        last_digits=last_digits(rows),
    )


class HeldTpsPublic(BaseModel):
    """One TPS result out of the totals (quarantine) with its numbers and why."""

    tps: str
    desa: str | None
    kecamatan: str | None
    hold: Literal["held", "rejected"]
    submission_id: uuid.UUID
    votes: dict[str, int]
    suara_sah: int
    suara_tidak_sah: int
    findings: list[FindingPublic]


class QuarantineRiskPublic(BaseModel):
    """Counted and held votes of one area, and whether the held ones could change the leader."""

    area: str
    name: str | None
    counted: dict[str, int]
    held: dict[str, int]
    leader: str | None
    leader_if_released: str | None
    margin: int
    held_votes: int
    could_change: bool


class QuarantinePublic(BaseModel):
    """Suara dikarantina: held TPS of an area, the area's risk and each kecamatan's."""

    election: str
    contest: str
    area: str
    held_tps: int
    tps: list[HeldTpsPublic]
    risk: QuarantineRiskPublic
    kecamatan: list[QuarantineRiskPublic]


@router.get("/quarantine/{election}/{contest}/{area}", response_model=QuarantinePublic)
async def quarantine(
    election: str, contest: str, area: str, state: StateDep, _viewer: CurrentViewer
) -> QuarantinePublic:
    """Held TPS results under an area with their numbers and the findings that held them."""
    await checked_or_404(state, election, contest, area)
    async with state.pool.acquire() as conn:
        held_rows, split = await fetch_quarantine(
            conn, election=election, contest=contest, area=area
        )
        rows, _, _ = await fetch_findings(
            conn, election=election, contest=contest, area=area, code=None, severity=None,
            open_only=True, limit=2000,
        )  # fmt: skip
    areas = state.roster.areas

    def name(code: str) -> str | None:
        found = areas.get(code)
        return found.name if found else None

    by_tps: dict[str, list[FindingPublic]] = {}
    for f in _findings_public(rows, name):
        by_tps.setdefault(f.tps, []).append(f)
    counted: dict[str, dict[str, int]] = {}
    held: dict[str, dict[str, int]] = {}
    for r in split:
        target = held if r["held"] else counted
        lines = target.setdefault(r["kecamatan"], {})
        lines[r["line"]] = lines.get(r["line"], 0) + int(r["votes"])

    def risk(code: str, kecamatans: list[str]) -> QuarantineRiskPublic:
        c: dict[str, int] = {}
        h: dict[str, int] = {}
        for k in kecamatans:
            for line, v in counted.get(k, {}).items():
                c[line] = c.get(line, 0) + v
            for line, v in held.get(k, {}).items():
                h[line] = h.get(line, 0) + v
        return QuarantineRiskPublic(
            area=code, name=name(code), counted=c, held=h, **quarantine_risk(c, h)
        )

    kecamatans = sorted(set(counted) | set(held))
    return QuarantinePublic(
        election=election,
        contest=contest,
        area=area,
        held_tps=sum(1 for r in held_rows if r["hold"] == "held"),
        tps=[
            HeldTpsPublic(
                tps=r["tps"],
                desa=name(r["tps"].rsplit(".", 1)[0]),
                kecamatan=name(r["tps"][:8]),
                hold=r["hold"],
                submission_id=r["submission_id"],
                votes=r["votes"],
                suara_sah=r["suara_sah"],
                suara_tidak_sah=r["suara_tidak_sah"],
                findings=by_tps.get(r["tps"], []),
            )
            for r in held_rows
        ],
        risk=risk(area, kecamatans),
        kecamatan=[risk(k, [k]) for k in kecamatans if k in held],
    )


class QuarantineDecisionIn(BaseModel):
    """Body of a release or reject decision."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000)


@router.post(
    "/quarantine/{election}/{contest}/{tps}/{action}",
    status_code=202,
    response_model=ReviewQueuedPublic,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
async def decide_quarantine(
    election: str,
    contest: str,
    tps: TpsPath,
    action: Literal["release", "reject"],
    body: QuarantineDecisionIn,
    request: Request,
    state: StateDep,
    reviewer: CurrentReviewer,
) -> Response:
    """Release a held TPS into the totals, or reject it (out until a new form); a review
    decision on the log, answered 202 once Kafka acknowledged it."""
    code = await _checked_place(state, reviewer, election, contest, tps)
    return await _publish(
        state, request, reviewer, election=election, contest=contest, tps=code, action=action,
        submission_id=None, note=body.note,
    )  # fmt: skip


def _findings_public(
    rows: Sequence[asyncpg.Record], name: Callable[[str], str | None]
) -> list[FindingPublic]:
    return [
        from_row(
            FindingPublic,
            r,
            desa=name(r["tps"].rsplit(".", 1)[0]) if r["tps"].count(".") == 4 else None,
            kecamatan_code=r["kecamatan"],  # the row's kecamatan is the code
            kecamatan=name(r["kecamatan"]),
        )
        for r in rows
    ]


EXPORT_COLUMNS = (
    "contest", "tps", "kecamatan", "desa", "code", "severity", "action", "pesan", "message",
    "value", "reference", "opened_at", "updated_at", "closed_at",
)  # fmt: skip


@router.get(
    "/findings/{election}/export.csv",
    response_class=Response,
    responses=CSV_DOC,
)
async def export_findings(
    election: str,
    state: StateDep,
    _viewer: CurrentViewer,
    contest: str | None = None,
    area: str | None = None,
    status: Literal["open", "all"] = "open",
) -> Response:
    """The findings under an area as CSV (one row per finding, numbers as JSON)."""
    listed = await list_findings(
        election, state, _viewer, contest=contest, area=area, code=None, severity=None,
        status=status, limit=2000,
    )  # fmt: skip
    return await table_download(FileKind.CSV, f"temuan-{election}", findings_table(listed))


def findings_table(listed: FindingListPublic) -> tables.Table:
    """One row per finding, its numbers as JSON; the CSV without a byte order mark."""
    rows = tuple(
        (
            f.contest,
            f.tps,
            f.kecamatan or f.kecamatan_code,
            f.desa or "",
            f.code,
            f.severity,
            f.action,
            f.pesan,
            f.message,
            orjson.dumps(f.value).decode(),
            orjson.dumps(f.reference).decode(),
            f.opened_at.isoformat(),
            f.updated_at.isoformat(),
            f.closed_at.isoformat() if f.closed_at else "",
        )
        for f in listed.findings
    )
    return tables.Table(
        title=(), header=EXPORT_COLUMNS, rows=rows, sheet_name="Temuan", csv_bom=False
    )
