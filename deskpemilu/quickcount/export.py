"""The sample as a sheet for the field team: CSV or XLSX, one row per sample TPS."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from openpyxl import Workbook

from shared.roster import ElectionRoster

COLUMNS = ("kecamatan", "nama_kecamatan", "desa", "nama_desa", "tps", "nomor_tps", "dpt")


def sample_rows(
    roster: ElectionRoster, tps: Sequence[str], names: Mapping[str, str]
) -> list[tuple[str, str, str, str, str, int, int]]:
    """One row per sample TPS in code order (names empty when unknown)."""
    rows = []
    for code in sorted(tps):
        info = roster.tps[code]
        kec, desa = info.kecamatan_code, info.desa_code
        rows.append(
            (kec, names.get(kec, ""), desa, names.get(desa, ""), code, info.number, info.dpt)
        )
    return rows


def write_sample(path: Path, rows: Sequence[tuple[object, ...]]) -> None:
    """Write the rows as CSV or XLSX, chosen by the file's extension."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
    elif suffix == ".xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "sampel"
        sheet.append(list(COLUMNS))
        for row in rows:
            sheet.append(list(row))
        book.save(path)
    else:
        raise ValueError(f"unknown export format {suffix!r}: use .csv or .xlsx")
