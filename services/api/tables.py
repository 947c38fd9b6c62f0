"""Plain tables as CSV or XLSX (the silent-TPS list, the activity report): pure, no I/O."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

Value = str | int | float | None


@dataclass(frozen=True, slots=True)
class Table:
    """Title lines (XLSX only), a header and rows of plain values."""

    title: tuple[str, ...]
    header: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]
    sheet_name: str = "Data"


def to_csv(table: Table) -> bytes:
    """Header and rows as CSV (UTF-8 with BOM so spreadsheet programs read the names right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(table: Table) -> bytes:
    """Title lines, a bold header with the panes frozen below it, then the rows."""
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = table.sheet_name[:31]
    bold = Font(bold=True)
    for text in table.title:
        ws.append([text])
        ws.cell(row=ws.max_row, column=1).font = bold
    if table.title:
        ws.append([])
    ws.append(list(table.header))
    header_at = ws.max_row
    fill = PatternFill("solid", fgColor="DDE6F0")
    for col in range(1, len(table.header) + 1):
        ws.cell(row=header_at, column=col).font = bold
        ws.cell(row=header_at, column=col).fill = fill
    for row in table.rows:
        ws.append(list(row))
    for i, name in enumerate(table.header, start=1):
        longest = max([len(name), *(len(str(r[i - 1])) for r in table.rows if i - 1 < len(r))])
        ws.column_dimensions[get_column_letter(i)].width = min(48, max(8, longest + 2))
    ws.freeze_panes = ws.cell(row=header_at + 1, column=1)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def when(moment: datetime | None) -> str:
    """An instant as ISO 8601 text, empty when there is none."""
    return "" if moment is None else moment.isoformat()
