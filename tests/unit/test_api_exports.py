"""Recap sheets: header layout per level, the JUMLAH line, CSV and XLSX that parse back."""

from __future__ import annotations

import csv
import io

import openpyxl
from hypothesis import given
from hypothesis import strategies as st

from services.api.exports import (
    TOTAL_LABEL,
    RecapColumn,
    RecapLevel,
    RecapRow,
    RecapSheet,
    header_row,
    table,
    to_csv,
    to_xlsx,
)

COLUMNS = (RecapColumn("c1", "01 Anies - Muhaimin"), RecapColumn("c2", "02 Prabowo - Gibran"))


def row(
    code: str, c1: int, c2: int, *, reported: int = 1, total: int = 2, status: str = ""
) -> RecapRow:
    """A recap row with consistent sums."""
    return RecapRow(
        code=code,
        name=f"Wilayah {code}",
        kecamatan="Banyuasin I",
        desa="Mariana",
        votes={"c1": c1, "c2": c2},
        suara_sah=c1 + c2,
        suara_tidak_sah=1,
        pengguna=c1 + c2 + 1,
        dpt=500,
        tps_reported=reported,
        tps_total=total,
        status=status,
    )


def sheet(level: RecapLevel, rows: tuple[RecapRow, ...]) -> RecapSheet:
    """A recap with a two-line title."""
    return RecapSheet(("REKAPITULASI", "Pemilu 2024 - PPWP"), level, COLUMNS, rows)


def test_headers_follow_the_level() -> None:
    assert header_row(sheet(RecapLevel.KECAMATAN, ()))[:4] == [
        "Kode",
        "Kecamatan",
        "01 Anies - Muhaimin",
        "02 Prabowo - Gibran",
    ]
    assert header_row(sheet(RecapLevel.DESA, ()))[:3] == ["Kode", "Kecamatan", "Desa/Kelurahan"]
    tps = header_row(sheet(RecapLevel.TPS, ()))
    assert tps[:4] == ["Kode", "Kecamatan", "Desa/Kelurahan", "TPS"] and tps[-1] == "Status"


def test_total_line_sums_every_column_and_recomputes_the_percentage() -> None:
    lines = table(
        sheet(RecapLevel.KECAMATAN, (row("16.07.01", 10, 20), row("16.07.02", 5, 6, reported=0)))
    )
    header, total = lines[0], lines[-1]
    assert total[1] == TOTAL_LABEL
    at = {name: i for i, name in enumerate(header)}
    assert total[at["01 Anies - Muhaimin"]] == 15 and total[at["Suara sah"]] == 41
    assert total[at["Jumlah suara"]] == 43 and total[at["TPS masuk"]] == 1
    assert total[at["% TPS masuk"]] == 25.0


def test_csv_parses_back_with_bom_for_spreadsheets() -> None:
    data = to_csv(sheet(RecapLevel.TPS, (row("16.07.01.1016.001", 1, 2, total=1, status="ok"),)))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1][0] == "16.07.01.1016.001" and rows[1][-1] == "ok"
    assert rows[-1][3] == TOTAL_LABEL


def test_xlsx_has_title_bold_header_and_fractions_for_percent() -> None:
    data = to_xlsx(sheet(RecapLevel.KECAMATAN, (row("16.07.01", 10, 20),)))
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws is not None
    assert ws["A1"].value == "REKAPITULASI" and ws["A1"].font.bold
    assert ws["A4"].value == "Kode" and ws["A4"].font.bold
    assert ws.freeze_panes == "A5"
    header = [c.value for c in ws[4]]
    pct = ws.cell(row=5, column=header.index("% TPS masuk") + 1)
    assert pct.value == 0.5 and pct.number_format == "0.0%"
    assert ws.cell(row=6, column=2).value == TOTAL_LABEL and ws.cell(row=6, column=2).font.bold


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 999)), max_size=30))
def test_csv_total_equals_the_sum_of_its_rows(pairs: list[tuple[int, int]]) -> None:
    rows = tuple(row(f"16.07.{i:02d}", a, b) for i, (a, b) in enumerate(pairs))
    parsed = list(
        csv.reader(io.StringIO(to_csv(sheet(RecapLevel.KECAMATAN, rows)).decode("utf-8-sig")))
    )
    body, total = parsed[1:-1], parsed[-1]
    for col in range(2, 9):
        assert int(total[col]) == sum(int(r[col]) for r in body)
