"""Tables as CSV or XLSX (every export: recap, KPU comparison, silent TPS, activity, incidents,
findings): pure, no I/O."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

Value = str | int | float | None

BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


@dataclass(frozen=True, slots=True)
class Table:
    """Title lines, a header and rows of plain values.

    The title heads the XLSX sheet; the CSV starts with it only when `csv_title` (a CSV reader
    expects the header first). `csv_bom`: UTF-8 with a byte order mark, so that spreadsheet
    programs read the names right.
    """

    title: tuple[str, ...]
    header: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]
    sheet_name: str = "Data"
    csv_title: bool = False
    csv_bom: bool = True


def csv_bytes(lines: Iterable[Sequence[Value]], *, bom: bool = True) -> bytes:
    """Lines as CSV (CRLF line ends, None as empty), UTF-8 with a BOM unless told otherwise."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(["" if v is None else v for v in line] for line in lines)
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def to_csv(table: Table) -> bytes:
    """Header and rows as CSV (the title lines first when the table says so)."""
    title = [(text,) for text in table.title] if table.csv_title else []
    return csv_bytes([*title, table.header, *table.rows], bom=table.csv_bom)


def _text(value: Value) -> str:
    return "" if value is None else str(value)


def new_sheet(name: str, title: Sequence[str]) -> tuple[Any, Any]:
    """A workbook and its one sheet: the title lines in bold, then a blank line if any."""
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = name[:31]
    for text in title:
        ws.append([text])
        ws.cell(row=ws.max_row, column=1).font = BOLD
    if title:
        ws.append([])
    return workbook, ws


def finish_sheet(workbook: Any, ws: Any, lines: Sequence[Sequence[Value]], header_at: int) -> bytes:
    """Columns as wide as their text (8 to 48), panes frozen below the header; the file."""
    count = max((len(line) for line in lines), default=0)
    for i in range(count):
        longest = max(len(_text(line[i])) for line in lines if i < len(line))
        ws.column_dimensions[get_column_letter(i + 1)].width = min(48, max(8, longest + 2))
    ws.freeze_panes = ws.cell(row=header_at + 1, column=1)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def to_xlsx(table: Table) -> bytes:
    """Title lines, a bold header with the panes frozen below it, then the rows."""
    workbook, ws = new_sheet(table.sheet_name, table.title)
    ws.append(list(table.header))
    header_at = ws.max_row
    for col in range(1, len(table.header) + 1):
        ws.cell(row=header_at, column=col).font = BOLD
        ws.cell(row=header_at, column=col).fill = HEADER_FILL
    for row in table.rows:
        ws.append(list(row))
    return finish_sheet(workbook, ws, [table.header, *table.rows], header_at)


def when(moment: datetime | None) -> str:
    """An instant as ISO 8601 text, empty when there is none."""
    return "" if moment is None else moment.isoformat()
