"""The incident export as CSV or XLSX (pure: rows in, bytes out)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from services.api.schemas_incidents import IncidentPublic

HEADER = (
    "incident_id", "reported_at", "kecamatan", "kecamatan_name", "desa", "desa_name", "tps",
    "category", "category_name", "severity", "status", "operator_id", "operator_name",
    "channel", "text", "updated_at", "updated_by",
)  # fmt: skip


def _row(i: IncidentPublic) -> list[str]:
    return [
        str(i.incident_id), i.reported_at.isoformat(), i.kecamatan, i.kecamatan_name or "",
        i.desa, i.desa_name or "", i.tps or "", i.category, i.category_name, i.severity,
        i.status, i.operator_id, i.operator_name, i.channel, i.text, i.updated_at.isoformat(),
        i.updated_by or "",
    ]  # fmt: skip


def incidents_csv(incidents: Sequence[IncidentPublic]) -> bytes:
    """UTF-8 CSV with a BOM (spreadsheets then read the Indonesian text right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(_row(i) for i in incidents)
    return ("\ufeff" + out.getvalue()).encode()


def incidents_xlsx(incidents: Sequence[IncidentPublic]) -> bytes:
    """One sheet 'Kejadian', a bold header row, one row per incident."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Kejadian"
    sheet.append(list(HEADER))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for incident in incidents:
        sheet.append(_row(incident))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
