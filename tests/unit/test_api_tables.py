"""Export files: one table writer for every export (CSV with or without title and BOM, XLSX with a
frozen bold header) and one download answer per file kind."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from services.api import tables
from services.api.downloads import CSV_TYPE, XLSX_TYPE, FileKind, download, table_download

TABLE = tables.Table(
    title=("Selisih dengan KPU", "Dibuat 14-02-2024"),
    header=("Kode", "Wilayah", "Catatan"),
    rows=(("16.07.01", "Banyuasin I", None), ("16.07.02", "Banyuasin II", "x" * 80)),
    sheet_name="Selisih KPU",
)


def test_csv_is_header_first_with_a_bom_unless_the_table_asks_for_its_title_or_no_bom() -> None:
    plain = tables.to_csv(TABLE)
    assert plain.startswith(b"\xef\xbb\xbf") and b"\r\n" in plain
    assert list(csv.reader(io.StringIO(plain.decode("utf-8-sig")))) == [
        ["Kode", "Wilayah", "Catatan"],
        ["16.07.01", "Banyuasin I", ""],
        ["16.07.02", "Banyuasin II", "x" * 80],
    ]
    titled = tables.Table(TABLE.title, TABLE.header, TABLE.rows, csv_title=True, csv_bom=False)
    data = tables.to_csv(titled)
    assert not data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert lines[:3] == [
        ["Selisih dengan KPU"],
        ["Dibuat 14-02-2024"],
        ["Kode", "Wilayah", "Catatan"],
    ]


def test_xlsx_has_bold_title_a_frozen_bold_header_and_bounded_widths() -> None:
    ws = load_workbook(io.BytesIO(tables.to_xlsx(TABLE))).active
    assert ws is not None
    assert ws.title == "Selisih KPU"
    assert ws["A1"].value == "Selisih dengan KPU" and ws["A1"].font.bold
    assert ws["A3"].value is None  # a blank line under the title
    assert [c.value for c in ws[4]] == ["Kode", "Wilayah", "Catatan"]
    assert all(c.font.bold for c in ws[4])
    assert ws.freeze_panes == "A5"
    assert [c.value for c in ws[5]] == ["16.07.01", "Banyuasin I", None]
    assert ws.column_dimensions["A"].width == 10  # "16.07.01" and 2
    assert ws.column_dimensions["C"].width == 48  # at most 48


def test_an_untitled_sheet_starts_with_its_header() -> None:
    ws = load_workbook(io.BytesIO(tables.to_xlsx(tables.Table((), ("a",), (("x",),))))).active
    assert ws is not None
    assert [r for r in ws.iter_rows(values_only=True)] == [("a",), ("x",)]
    assert ws.freeze_panes == "A2"


async def test_a_download_is_an_attachment_of_its_kind() -> None:
    as_csv = await table_download(FileKind.CSV, "selisih-16.07", TABLE)
    assert as_csv.media_type == CSV_TYPE
    assert as_csv.headers["content-disposition"] == 'attachment; filename="selisih-16.07.csv"'
    assert as_csv.body == tables.to_csv(TABLE)
    as_xlsx = await download(FileKind.XLSX, "rekap", TABLE, tables.to_csv, tables.to_xlsx)
    assert as_xlsx.media_type == XLSX_TYPE
    assert as_xlsx.headers["content-disposition"] == 'attachment; filename="rekap.xlsx"'
    assert bytes(as_xlsx.body)[:2] == b"PK"
