"""D.Hasil recap files (CSV and XLSX) read into rows; bad rows reported with their line."""

from __future__ import annotations

import io

from openpyxl import Workbook

from shared.kpu.recap import desa_code, read_csv, read_xlsx

CSV = (
    "# D.Hasil Kecamatan Banyuasin I, PPWP\n"
    "kode_desa,nama_desa,dpt,pengguna,suara_sah,suara_tidak_sah,c1,c2,c3\n"
    "1607011016,Mariana,6800,5400,5300,100,800,3900,600\n"
    "\n"
    "16.07.01.1021,Mariana Ilir,,,3950,50,600,2900,450\n"
    "160701,Salah,1,1,1,0,1,0,0\n"
    "1607012001,Minus,1,1,-1,0,1,0,0\n"
)


def test_csv_rows_notes_blank_lines_and_problems() -> None:
    table = read_csv(CSV.encode())
    assert [r.area_code for r in table.rows] == ["16.07.01.1016", "16.07.01.1021"]
    first, second = table.rows
    assert first.votes == {"c1": 800, "c2": 3900, "c3": 600}
    assert (first.dpt, first.pengguna, first.suara_sah, first.suara_tidak_sah) == (
        6800, 5400, 5300, 100,
    )  # fmt: skip
    assert (second.dpt, second.pengguna) == (None, None)  # empty cells: not given
    assert [(p.row, p.code) for p in table.problems] == [
        (6, "KPU_RECAP_BAD_DESA"),
        (7, "KPU_RECAP_BAD_NUMBER"),
    ]
    assert all(p.pesan and p.message for p in table.problems)


def test_semicolon_csv_as_spreadsheets_export_it() -> None:
    text = "kode_desa;suara_sah;c1;c2\n1607011016;10;4;6\n"
    assert read_csv(text.encode()).rows[0].votes == {"c1": 4, "c2": 6}


def test_header_without_kode_desa_or_with_unknown_columns_refuses_the_file() -> None:
    assert read_csv(b"desa,c1\n1607011016,3\n").problems[0].code == "KPU_RECAP_NO_HEADER"
    unknown = read_csv(b"kode_desa,c1,paslon_4\n1607011016,3,4\n")
    assert unknown.rows == ()
    assert unknown.problems[0].code == "KPU_RECAP_UNKNOWN_COLUMN"
    assert "paslon_4" in unknown.problems[0].message
    assert read_csv(b"# only a note\n").problems[0].code == "KPU_RECAP_EMPTY"


def test_xlsx_first_sheet_same_layout_and_float_cells() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Kode_Desa", "suara_sah", "c1", "c2"])
    sheet.append(["1607022001", 900.0, 300, 600])
    out = io.BytesIO()
    book.save(out)
    table = read_xlsx(out.getvalue())
    assert table.problems == ()
    assert table.rows[0].area_code == "16.07.02.2001"
    assert table.rows[0].suara_sah == 900
    assert table.rows[0].votes == {"c1": 300, "c2": 600}


def test_content_hash_follows_the_figures() -> None:
    a = read_csv(CSV.encode()).rows[0]
    b = read_csv(CSV.replace("800,3900", "801,3900").encode()).rows[0]
    assert a.content_hash() == read_csv(CSV.encode()).rows[0].content_hash()
    assert a.content_hash() != b.content_hash()


def test_thousands_grouped_with_dots_and_nothing_else() -> None:
    table = read_csv(b"kode_desa,suara_sah,c1\n1607011016,1.234,900.0\n1607011021,5,6\n")
    assert [r.area_code for r in table.rows] == ["16.07.01.1021"]
    assert [p.code for p in table.problems] == ["KPU_RECAP_BAD_NUMBER"]  # 900.0 is no count
    grouped = read_csv(b"kode_desa,suara_sah\n1607011016,1.234\n").rows[0]
    assert grouped.suara_sah == 1234


def test_desa_codes() -> None:
    assert desa_code("1607011016") == "16.07.01.1016"
    assert desa_code(" 16.07.01.1016 ") == "16.07.01.1016"
    assert desa_code("16.07.01") is None
