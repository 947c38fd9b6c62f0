"""A kecamatan's spreadsheet (CSV or XLSX) of TPS rows for one contest, read into C.Hasil forms."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.errors import BilingualError, ErrorDetail, translate_errors
from shared.form import CHasil, Contest

_CANDIDATE_COLUMN = re.compile(r"^(?:paslon|calon|c)?_?0*([1-9][0-9]{0,2})$")
_PARTY_COLUMN = re.compile(r"^(?:p|partai)_?0*([1-9][0-9]{0,2})$")
_SAH = frozenset({"sah", "suara_sah"})
_TIDAK_SAH = frozenset({"tidak_sah", "suara_tidak_sah", "ts"})
_JUMLAH = frozenset({"jumlah", "jumlah_suara"})
# Descriptive columns a kecamatan sheet often carries; read past, never into the form.
_FORM_FIELD = {"sah": "suara_sah", "tidak_sah": "suara_tidak_sah", "jumlah": "jumlah_suara"}
_IGNORED = frozenset(
    {"no", "nomor", "desa", "kelurahan", "nama_desa", "nama_tps", "keterangan", "catatan"}
)

COLUMNS_HELP = (
    "tps, lalu suara per nomor urut (1, 2, 3 atau paslon_1 ...) atau per partai (p1, p2 ...), "
    "sah, tidak_sah, opsional jumlah / "
    "tps, then votes per candidate number (1, 2, 3 or paslon_1 ...) or per party (p1, p2 ...), "
    "sah, tidak_sah, optional jumlah"
)


class SheetError(BilingualError):
    """The file as a whole cannot be read: wrong format, no header, unknown columns."""


@dataclass(frozen=True)
class SheetRow:
    """One data row: its row number in the sheet (header is 1) and its form or its problems."""

    row: int
    form: CHasil | None = None
    errors: list[ErrorDetail] = field(default_factory=list)
    tps: str | None = None


def _header_name(value: Any) -> str:
    return re.sub(
        r"[^a-z0-9]+", "_", str(value if value is not None else "").strip().lower()
    ).strip("_")


def read_table(data: bytes, filename: str) -> list[list[Any]]:
    """Rows of the first sheet of an XLSX file, or of a CSV file (',' ';' or tab separated)."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    return _read_csv(data)


def _read_xlsx(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SheetError(
            "SHEET_UNREADABLE",
            "Berkas XLSX tidak bisa dibaca.",
            "The XLSX file cannot be read.",
        ) from exc
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _read_csv(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _count(value: Any, column: str) -> int | ErrorDetail:
    """A vote count from a cell: whole numbers only; '1.234' reads as thousands."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip() if value is not None else ""
    if re.fullmatch(r"[0-9]{1,7}", text):
        return int(text)
    if re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{3})+", text):
        return int(text.replace(".", ""))
    if not text:
        return ErrorDetail(
            field=column,
            code="empty_cell",
            pesan=f"kolom {column} kosong; isi 0 bila nol",
            message=f"column {column} is empty; write 0 for zero",
        )
    return ErrorDetail(
        field=column,
        code="not_a_count",
        pesan=f"kolom {column}: '{text[:20]}' bukan bilangan bulat",
        message=f"column {column}: '{text[:20]}' is not a whole number",
    )


def _columns(header: list[Any], contest: Contest) -> dict[int, tuple[str, int]]:
    """Column index -> (kind, number) for every column that goes into the form."""
    mapping: dict[int, tuple[str, int]] = {}
    unknown: list[str] = []
    seen: set[tuple[str, int]] = set()
    number_column = _PARTY_COLUMN if contest.is_party_list else _CANDIDATE_COLUMN
    for index, raw in enumerate(header):
        name = _header_name(raw)
        kind: tuple[str, int] | None
        if not name or name in _IGNORED:
            kind = None
        elif name == "tps":
            kind = ("tps", 0)
        elif name in _SAH:
            kind = ("sah", 0)
        elif name in _TIDAK_SAH:
            kind = ("tidak_sah", 0)
        elif name in _JUMLAH:
            kind = ("jumlah", 0)
        elif match := number_column.match(name):
            kind = ("votes", int(match.group(1)))
        else:
            unknown.append(str(raw))
            continue
        if kind is None:
            continue
        if kind in seen:
            raise SheetError(
                "SHEET_DUPLICATE_COLUMN",
                f"Kolom '{raw}' muncul dua kali.",
                f"Column '{raw}' appears twice.",
            )
        seen.add(kind)
        mapping[index] = kind
    if unknown:
        names = ", ".join(unknown[:10])
        raise SheetError(
            "SHEET_UNKNOWN_COLUMNS",
            f"Kolom tidak dikenal untuk {contest.value}: {names}. Kolom: {COLUMNS_HELP}",
            f"Unknown columns for {contest.value}: {names}. Columns: {COLUMNS_HELP}",
        )
    missing = [k for k in ("tps", "sah", "tidak_sah") if (k, 0) not in seen]
    if missing or not any(kind == "votes" for kind, _ in seen):
        what = ", ".join(missing) or "suara / votes"
        raise SheetError(
            "SHEET_MISSING_COLUMNS",
            f"Kolom wajib tidak ada: {what}. Kolom: {COLUMNS_HELP}",
            f"Required columns missing: {what}. Columns: {COLUMNS_HELP}",
        )
    return mapping


def rows_to_forms(
    table: list[list[Any]], *, election: str, contest: Contest, max_rows: int
) -> list[SheetRow]:
    """One SheetRow per non-empty data row; the first non-empty row is the header."""
    rows = [(n, row) for n, row in enumerate(table, start=1) if not all(map(_blank, row))]
    if not rows:
        raise SheetError("SHEET_EMPTY", "Berkas kosong.", "The file is empty.")
    (_, header), data_rows = rows[0], rows[1:]
    if len(data_rows) > max_rows:
        raise SheetError(
            "SHEET_TOO_MANY_ROWS",
            f"Terlalu banyak baris ({len(data_rows)}; paling banyak {max_rows}).",
            f"Too many rows ({len(data_rows)}; at most {max_rows}).",
        )
    columns = _columns(header, contest)
    return [_row_form(n, row, columns, election, contest) for n, row in data_rows]


def _row_form(
    number: int,
    row: list[Any],
    columns: dict[int, tuple[str, int]],
    election: str,
    contest: Contest,
) -> SheetRow:
    errors: list[ErrorDetail] = []
    fields: dict[str, Any] = {"election": election, "contest": contest.value}
    votes: dict[int, int] = {}
    tps: str | None = None
    for index, (kind, nomor) in columns.items():
        cell = row[index] if index < len(row) else None
        if kind == "tps":
            tps = str(cell).strip() if not _blank(cell) else ""
            fields["tps"] = tps
            continue
        if kind == "jumlah" and _blank(cell):
            continue
        column = _column_label(kind, nomor, contest)
        value = _count(cell, column)
        if isinstance(value, ErrorDetail):
            errors.append(value)
        elif kind == "votes":
            votes[nomor] = value
        else:
            fields[
                {"sah": "suara_sah", "tidak_sah": "suara_tidak_sah"}.get(kind, "jumlah_suara")
            ] = value
    if errors:
        return SheetRow(number, errors=errors, tps=tps)
    if contest.is_party_list:
        # The sheet carries each party's total (line B) only; it stands in for A.1 as well.
        fields["suara_partai"] = [
            {"nomor_partai": no, "suara_partai": v, "jumlah": v} for no, v in sorted(votes.items())
        ]
    else:
        fields["suara_calon"] = votes
    try:
        form = CHasil.model_validate(fields)
    except ValidationError as exc:
        return SheetRow(number, errors=translate_errors(exc.errors()), tps=tps)
    return SheetRow(number, form=form, tps=form.tps)


def _column_label(kind: str, nomor: int, contest: Contest) -> str:
    if kind == "votes":
        return f"p{nomor}" if contest.is_party_list else str(nomor)
    return kind
