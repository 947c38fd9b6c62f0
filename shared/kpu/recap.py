"""KPU's D.Hasil recapitulation per kecamatan (CSV or XLSX, one row per desa) as rows. Pure.

Layout (docs/KPU_IMPORT.md): a header row naming `kode_desa` (dotted 16.07.01.1016 or KPU's
10 digits 1607011016), optionally `nama_desa`, `dpt`, `pengguna`, `suara_sah`,
`suara_tidak_sah`, and one column per vote line (`c1`, `c2`, ... or `p1`, ... for party lists).
Lines starting with `#` are notes. Empty cells are "not given".
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

_DESA_DOTTED = re.compile(r"^(\d{2})\.(\d{2})\.(\d{2})\.(\d{4})$")
_DESA_DIGITS = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{4})$")
_LINE = re.compile(r"^[cp][0-9]{1,3}$")
_GROUPED = re.compile(r"^\d{1,3}(\.\d{3})+$")
FIGURES = ("dpt", "pengguna", "suara_sah", "suara_tidak_sah")


@dataclass(frozen=True, slots=True)
class RecapRow:
    """KPU's recapitulated figures of one desa."""

    area_code: str
    votes: dict[str, int]
    suara_sah: int | None
    suara_tidak_sah: int | None
    pengguna: int | None
    dpt: int | None

    def content_hash(self) -> str:
        """sha256 over the figures: equal, nothing changed."""
        payload = orjson.dumps(
            [self.area_code, self.votes, self.suara_sah, self.suara_tidak_sah, self.pengguna,
             self.dpt],
            option=orjson.OPT_SORT_KEYS,
        )  # fmt: skip
        return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True, slots=True)
class RecapProblem:
    """A row (or the whole file, row 0) that could not be read, and why."""

    row: int
    code: str
    pesan: str
    message: str


@dataclass(frozen=True, slots=True)
class RecapFile:
    """The rows read from one file and the problems found."""

    rows: tuple[RecapRow, ...]
    problems: tuple[RecapProblem, ...]


def desa_code(value: str) -> str | None:
    """A desa code in dotted form, from dotted or KPU's 10-digit form; None when neither."""
    text = value.strip()
    match = _DESA_DOTTED.match(text) or _DESA_DIGITS.match(text)
    return ".".join(match.groups()) if match else None


def _count(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        # 1.234 is how Indonesian spreadsheets group thousands; anything else must be a plain int.
        number = int(text.replace(".", "")) if _GROUPED.match(text) else int(text)
    if number < 0:
        raise ValueError("negative")
    return number


def _header(cells: Sequence[Any]) -> list[str]:
    return [str(c).strip().lower() if c is not None else "" for c in cells]


def read_rows(table: Iterable[Sequence[Any]]) -> RecapFile:
    """Rows of a recap table (header first); notes (`#`) and blank rows skipped."""
    rows: list[RecapRow] = []
    problems: list[RecapProblem] = []
    header: list[str] | None = None
    for number, cells in enumerate(table, start=1):
        if not cells or all(c is None or str(c).strip() == "" for c in cells):
            continue
        if str(cells[0] or "").startswith("#"):
            continue
        if header is None:
            header = _header(cells)
            if "kode_desa" not in header:
                return RecapFile((), (RecapProblem(number, "KPU_RECAP_NO_HEADER",
                    "baris judul tanpa kolom kode_desa",
                    "header row has no kode_desa column"),))  # fmt: skip
            unknown = [h for h in header if h and h not in (*FIGURES, "kode_desa", "nama_desa")
                       and not _LINE.match(h)]  # fmt: skip
            if unknown:
                return RecapFile((), (RecapProblem(number, "KPU_RECAP_UNKNOWN_COLUMN",
                    f"kolom tidak dikenal: {', '.join(unknown)}",
                    f"unknown columns: {', '.join(unknown)}"),))  # fmt: skip
            continue
        record = dict(zip(header, cells, strict=False))
        code = desa_code(str(record.get("kode_desa") or ""))
        if code is None:
            problems.append(RecapProblem(number, "KPU_RECAP_BAD_DESA",
                f"kode desa tidak sah: {record.get('kode_desa')!r}",
                f"invalid desa code: {record.get('kode_desa')!r}"))  # fmt: skip
            continue
        try:
            figures = {f: _count(record.get(f)) for f in FIGURES}
            votes = {h: _count(v) for h, v in record.items() if _LINE.match(h)}
        except ValueError:
            problems.append(RecapProblem(number, "KPU_RECAP_BAD_NUMBER",
                "angka tidak sah (harus bilangan bulat >= 0)",
                "invalid number (must be a whole number >= 0)"))  # fmt: skip
            continue
        rows.append(
            RecapRow(
                area_code=code,
                votes={k: v for k, v in votes.items() if v is not None},
                suara_sah=figures["suara_sah"],
                suara_tidak_sah=figures["suara_tidak_sah"],
                pengguna=figures["pengguna"],
                dpt=figures["dpt"],
            )
        )
    if header is None:
        problems.append(RecapProblem(0, "KPU_RECAP_EMPTY", "berkas kosong", "empty file"))
    return RecapFile(tuple(rows), tuple(problems))


def read_csv(data: bytes) -> RecapFile:
    """A recap in CSV (UTF-8, comma separated; `;` is accepted as the spreadsheet export)."""
    text = data.decode("utf-8-sig")
    sample = next((ln for ln in text.splitlines() if ln and not ln.startswith("#")), "")
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    return read_rows(csv.reader(io.StringIO(text), delimiter=delimiter))


def read_xlsx(data: bytes) -> RecapFile:
    """A recap in XLSX: the first sheet, same layout as the CSV."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        return read_rows(list(sheet.iter_rows(values_only=True)))
    finally:
        book.close()
