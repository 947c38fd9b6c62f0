"""The incident export as a table (pure: rows in, a services/api/tables.py table out)."""

from __future__ import annotations

from collections.abc import Sequence

from services.api import tables
from services.api.schemas_incidents import IncidentPublic

HEADER = (
    "incident_id", "reported_at", "kecamatan", "kecamatan_name", "desa", "desa_name", "tps",
    "category", "category_name", "severity", "status", "operator_id", "operator_name",
    "channel", "text", "updated_at", "updated_by",
)  # fmt: skip


def _row(i: IncidentPublic) -> tuple[str, ...]:
    return (
        str(i.incident_id), i.reported_at.isoformat(), i.kecamatan, i.kecamatan_name or "",
        i.desa, i.desa_name or "", i.tps or "", i.category, i.category_name, i.severity,
        i.status, i.operator_id, i.operator_name, i.channel, i.text, i.updated_at.isoformat(),
        i.updated_by or "",
    )  # fmt: skip


def incidents_table(incidents: Sequence[IncidentPublic]) -> tables.Table:
    """One sheet 'Kejadian': the header, one row per incident."""
    return tables.Table(
        title=(), header=HEADER, rows=tuple(_row(i) for i in incidents), sheet_name="Kejadian"
    )
