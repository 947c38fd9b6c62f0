"""Routes: findings of the screens across TPS and the forensics panel (both advisory)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.api.deps import (
    CurrentViewer,
    StateDep,
    area_or_404,
    contest_or_404,
    election_or_404,
)
from services.api.errors import ApiError
from services.api.forensics import TpsRow, fingerprint, last_digits
from services.api.repository_findings import fetch_findings, fetch_forensic_rows
from services.screener.screens import CODES, Severity

router = APIRouter(prefix="/v1", tags=["findings"])


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
    area: str | None = Query(default=None, description="area code: findings under it"),
    code: str | None = Query(default=None, description="screen code, e.g. IDENTICAL_VOTES"),
    severity: Literal["info", "warning", "critical"] | None = None,
    status: Literal["open", "all"] = "open",
    limit: int = Query(default=200, ge=1, le=2000),
) -> FindingListPublic:
    """Findings of the screens across TPS; open ones by default."""
    meta = await election_or_404(state, election)
    if contest is not None:
        contest_or_404(meta, contest)
    if area is not None:
        area_or_404(state, meta, area)
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

    findings = [
        FindingPublic(
            contest=r["contest"],
            tps=r["tps"],
            desa=name(r["tps"].rsplit(".", 1)[0]) if r["tps"].count(".") == 4 else None,
            kecamatan_code=r["kecamatan"],
            kecamatan=name(r["kecamatan"]),
            code=r["code"],
            severity=r["severity"],
            action=r["action"],
            value=r["value"],
            reference=r["reference"],
            pesan=r["pesan"],
            message=r["message"],
            opened_at=r["opened_at"],
            updated_at=r["updated_at"],
            closed_at=r["closed_at"],
        )
        for r in rows
    ]
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
    meta = await election_or_404(state, election)
    contest_or_404(meta, contest)
    area_or_404(state, meta, area)
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
