"""Recap sheets (rekapitulasi) as CSV and XLSX bytes: pure functions over rows, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from openpyxl.styles import Alignment

from services.api import tables


class RecapLevel(StrEnum):
    """The rows of a recap sheet."""

    KECAMATAN = "kecamatan"
    DESA = "desa"
    TPS = "tps"


@dataclass(frozen=True, slots=True)
class RecapColumn:
    """One vote line: its key ('c1', 'p3') and the header written above it."""

    key: str
    header: str


@dataclass(frozen=True, slots=True)
class RecapRow:
    """One area or TPS of the recap with its vote sums and reporting progress."""

    code: str
    name: str
    kecamatan: str  # name of the kecamatan (desa and TPS rows)
    desa: str  # name of the desa (TPS rows)
    votes: Mapping[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int
    dpt: int
    tps_reported: int
    tps_total: int
    status: str = ""  # TPS rows: ok, disputed, verified, or empty when not reported


@dataclass(frozen=True, slots=True)
class RecapSheet:
    """A whole recap: title lines, the level of its rows, vote columns and rows."""

    title: tuple[str, ...]
    level: RecapLevel
    columns: tuple[RecapColumn, ...]
    rows: tuple[RecapRow, ...]


Cell = str | int | float

_LEVEL_HEADER = {
    RecapLevel.KECAMATAN: "Kecamatan",
    RecapLevel.DESA: "Desa/Kelurahan",
    RecapLevel.TPS: "TPS",
}
TOTAL_LABEL = "JUMLAH"


def progress_fraction(reported: int, total: int) -> float:
    """Share of TPS reported, 0 when the roster has none."""
    return reported / total if total > 0 else 0.0


def header_row(sheet: RecapSheet) -> list[str]:
    """Column headers: where, one column per vote line, then sums and progress."""
    where = ["Kode"]
    if sheet.level in (RecapLevel.DESA, RecapLevel.TPS):
        where.append("Kecamatan")
    if sheet.level is RecapLevel.TPS:
        where.append("Desa/Kelurahan")
    where.append(_LEVEL_HEADER[sheet.level])
    tail = [
        "Suara sah",
        "Suara tidak sah",
        "Jumlah suara",
        "Pengguna hak pilih",
        "DPT",
        "TPS masuk",
        "TPS total",
        "% TPS masuk",
    ]
    if sheet.level is RecapLevel.TPS:
        tail.append("Status")
    return where + [c.header for c in sheet.columns] + tail


def _cells(sheet: RecapSheet, row: RecapRow, *, code: str, name: str) -> list[Cell]:
    where: list[Cell] = [code]
    if sheet.level in (RecapLevel.DESA, RecapLevel.TPS):
        where.append(row.kecamatan)
    if sheet.level is RecapLevel.TPS:
        where.append(row.desa)
    where.append(name)
    tail: list[Cell] = [
        row.suara_sah,
        row.suara_tidak_sah,
        row.suara_sah + row.suara_tidak_sah,
        row.pengguna,
        row.dpt,
        row.tps_reported,
        row.tps_total,
        round(100 * progress_fraction(row.tps_reported, row.tps_total), 2),
    ]
    if sheet.level is RecapLevel.TPS:
        tail.append(row.status)
    return where + [row.votes.get(c.key, 0) for c in sheet.columns] + tail


def total_row(sheet: RecapSheet) -> RecapRow:
    """Sum of every row: the JUMLAH line at the bottom of the recap."""
    votes = {c.key: sum(r.votes.get(c.key, 0) for r in sheet.rows) for c in sheet.columns}
    return RecapRow(
        code="",
        name=TOTAL_LABEL,
        kecamatan="",
        desa="",
        votes=votes,
        suara_sah=sum(r.suara_sah for r in sheet.rows),
        suara_tidak_sah=sum(r.suara_tidak_sah for r in sheet.rows),
        pengguna=sum(r.pengguna for r in sheet.rows),
        dpt=sum(r.dpt for r in sheet.rows),
        tps_reported=sum(r.tps_reported for r in sheet.rows),
        tps_total=sum(r.tps_total for r in sheet.rows),
    )


def table(sheet: RecapSheet) -> list[list[Cell]]:
    """Header, one line per row, and the JUMLAH line."""
    lines: list[list[Cell]] = [list(header_row(sheet))]
    lines += [_cells(sheet, r, code=r.code, name=r.name) for r in sheet.rows]
    lines.append(_cells(sheet, total_row(sheet), code="", name=TOTAL_LABEL))
    return lines


def to_csv(sheet: RecapSheet) -> bytes:
    """The recap table as CSV (UTF-8 with BOM so spreadsheet programs read the names right)."""
    return tables.csv_bytes(table(sheet))


def to_xlsx(sheet: RecapSheet) -> bytes:
    """The recap as an XLSX workbook: title lines, a bold header, rows and a bold JUMLAH line."""
    workbook, ws = tables.new_sheet("Rekap", sheet.title)
    lines = table(sheet)
    header_at = 0
    percent_col = header_row(sheet).index("% TPS masuk") + 1
    for index, line in enumerate(lines):
        # Percent cells hold fractions with a percent format, so spreadsheets compute with them.
        values = [
            v / 100 if (i + 1 == percent_col and index > 0 and isinstance(v, int | float)) else v
            for i, v in enumerate(line)
        ]
        ws.append(values)
        row_no = ws.max_row
        header_at = header_at or row_no
        for col in range(1, len(values) + 1):
            cell = ws.cell(row=row_no, column=col)
            if index == 0:
                cell.font = tables.BOLD
                cell.fill = tables.HEADER_FILL
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif col == percent_col:
                cell.number_format = "0.0%"
            elif isinstance(cell.value, int):
                cell.number_format = "#,##0"
            if index == len(lines) - 1:
                cell.font = tables.BOLD
    return tables.finish_sheet(workbook, ws, lines, header_at)
