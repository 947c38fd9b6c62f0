"""Read and check a roster folder (CSV files, docs/ROSTER_FORMAT.md): no database involved.

read_roster_folder() turns the files into a RosterFolder, or raises RosterFileError naming every
problem (file, line, column, in Indonesian and English). roster_store writes what it returns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from shared.events import Role
from shared.form import PARTY_LIST_CONTESTS, Contest
from shared.roster import AreaLevel

Progress = Callable[[str], None]

MAX_ERRORS = 50  # enough to fix a file in one go, not so many that the first ones scroll away

REQUIRED_FILES = ("election.csv", "areas.csv", "tps.csv", "contests.csv", "candidates.csv")
OPTIONAL_FILES = ("parties.csv", "operators.csv")

CONTESTS_OF_KIND: dict[str, frozenset[Contest]] = {
    "pemilu": frozenset(
        {Contest.PPWP, Contest.DPR, Contest.DPD, Contest.DPRD_PROV, Contest.DPRD_KABKO}
    ),
    "pilkada": frozenset({Contest.PILGUB, Contest.PILBUP, Contest.PILWALKOT}),
}
_LEVEL_OF_SHAPE = {
    re.compile(r"^\d{2}$"): AreaLevel.PROVINSI,
    re.compile(r"^\d{2}\.\d{2}$"): AreaLevel.KABKO,
    re.compile(r"^\d{2}\.\d{2}\.\d{2}$"): AreaLevel.KECAMATAN,
    re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"): AreaLevel.DESA,
}
_KINDS_OF_LEVEL = {
    AreaLevel.DESA: ("desa", "kelurahan"),
    AreaLevel.KABKO: ("", "kabupaten", "kota"),
    AreaLevel.KECAMATAN: ("",),
    AreaLevel.PROVINSI: ("",),
}
_ELECTION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_OPERATOR_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PHONE = re.compile(r"^[1-9][0-9]{7,14}$")
_TRUE = frozenset({"true", "1", "ya", "yes"})
_FALSE = frozenset({"false", "0", "tidak", "no"})
MAX_COUNT = 100_000  # no TPS has this many voters; catches a slipped thousands separator


class RosterFileError(Exception):
    """A roster file that cannot be loaded: where (file, line, column) and why, in two languages."""

    def __init__(
        self,
        file: str,
        line: int | None,
        column: int | None,
        message: str,
        *,
        code: str = "ROSTER_INVALID",
        errors: Sequence[RosterFileError] = (),
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.code = code
        # Every problem found in the folder, this one first; the loader reports them all at once.
        self.errors: tuple[RosterFileError, ...] = tuple(errors) or (self,)

    def location(self) -> str:
        """file:line:column as far as known."""
        return ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)

    def __str__(self) -> str:
        text = f"{self.location()}: {self.code}: {self.message}"
        more = len(self.errors) - 1
        if more:
            text += "".join(f"\n{e.location()}: {e.code}: {e.message}" for e in self.errors[1:])
        return text


@dataclass(frozen=True)
class ElectionRow:
    """election.csv."""

    id: str
    kind: str
    name: str
    date: date
    max_dpt_per_tps: int
    ballot_reserve_pct: Decimal


@dataclass(frozen=True)
class AreaRow:
    """One row of areas.csv."""

    code: str
    level: AreaLevel
    name: str
    parent_code: str | None
    kind: str | None


@dataclass(frozen=True)
class TpsRow:
    """One row of tps.csv."""

    code: str
    desa_code: str
    number: int
    dpt_l: int
    dpt_p: int
    generated: bool


@dataclass(frozen=True)
class CandidateRow:
    """One row of candidates.csv."""

    contest: Contest
    party: int | None
    nomor: int
    name: str
    generated: bool


@dataclass(frozen=True)
class OperatorRow:
    """One row of operators.csv."""

    id: str
    name: str
    role: Role
    scope: tuple[str, ...]
    phone: str | None
    active: bool
    demo: bool
    line: int  # kept to point at the row when the database refuses its phone number
    phone_column: int


@dataclass
class RosterFolder:
    """A roster folder read and checked, ready to load."""

    folder: Path
    content_hash: str
    election: ElectionRow
    areas: list[AreaRow]
    tps: list[TpsRow]
    contests: dict[Contest, str]
    parties: list[tuple[int, str, str]]
    candidates: list[CandidateRow]
    operators: list[OperatorRow] | None  # None when the folder has no operators.csv


class _Errors:
    """Collects problems across files; stops reading after MAX_ERRORS."""

    def __init__(self) -> None:
        self.items: list[RosterFileError] = []

    def add(
        self, file: Path, line: int | None, column: int | None, code: str, pesan: str, message: str
    ) -> None:
        self.items.append(
            RosterFileError(str(file), line, column, f"{pesan} / {message}", code=code)
        )
        if len(self.items) >= MAX_ERRORS:
            self.raise_if_any()

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise RosterFileError(
                first.file,
                first.line,
                first.column,
                first.message,
                code=first.code,
                errors=self.items,
            )


@dataclass
class _Row:
    """One data row of a sheet with its line number and raw cells in header order."""

    line: int
    values: list[str]


class _Sheet:
    """A CSV file read with exact line numbers, its header checked against the expected columns."""

    def __init__(
        self, path: Path, required: Sequence[str], optional: Sequence[str], errors: _Errors
    ) -> None:
        self.path = path
        self.errors = errors
        self.columns: dict[str, int] = {}
        self.rows: list[_Row] = []
        self.header_line = 0
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")  # Excel writes a BOM
        except UnicodeDecodeError as exc:
            errors.add(
                path,
                data[: exc.start].count(b"\n") + 1,
                None,
                "ROSTER_NOT_UTF8",
                "berkas harus UTF-8 (Excel: Simpan sebagai CSV UTF-8)",
                "the file must be UTF-8 (Excel: Save as CSV UTF-8)",
            )
            return
        # Split on '\n' only, as the csv module counts lines; str.splitlines also splits on
        # characters such as U+2028 and would shift every line number after them.
        lines = io.StringIO(text).readlines()
        # '#' comment lines and blank lines may precede the header (sources, notes).
        skipped = 0
        while skipped < len(lines) and (
            not lines[skipped].strip() or lines[skipped].startswith("#")
        ):
            skipped += 1
        reader = csv.reader(io.StringIO("".join(lines[skipped:])))
        header: list[str] | None = None
        previous_end = 0
        for record in reader:
            start = skipped + previous_end + 1
            previous_end = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            if header is None:
                self.header_line = start
                header = [cell.strip().lower() for cell in record]
                self._check_header(header, required, optional)
                continue
            self._add_row(start, header, record)
        if header is None:
            errors.add(
                path,
                None,
                None,
                "ROSTER_EMPTY_FILE",
                "berkas kosong, baris judul kolom tidak ada",
                "file is empty, the header row is missing",
            )

    def _check_header(
        self, header: list[str], required: Sequence[str], optional: Sequence[str]
    ) -> None:
        for index, name in enumerate(header, start=1):
            if name in self.columns:
                self.errors.add(
                    self.path,
                    self.header_line,
                    index,
                    "ROSTER_DUPLICATE_COLUMN",
                    f"kolom '{name}' ganda",
                    f"column '{name}' appears twice",
                )
            elif name not in required and name not in optional:
                self.errors.add(
                    self.path,
                    self.header_line,
                    index,
                    "ROSTER_UNKNOWN_COLUMN",
                    f"kolom '{name}' tidak dikenal (kolom: {', '.join((*required, *optional))})",
                    f"unknown column '{name}' (columns: {', '.join((*required, *optional))})",
                )
            self.columns.setdefault(name, index)
        for name in required:
            if name not in self.columns:
                self.errors.add(
                    self.path,
                    self.header_line,
                    None,
                    "ROSTER_MISSING_COLUMN",
                    f"kolom wajib '{name}' tidak ada",
                    f"required column '{name}' is missing",
                )

    def _add_row(self, line: int, header: list[str], record: list[str]) -> None:
        if len(record) > len(header):
            self.errors.add(
                self.path,
                line,
                len(header) + 1,
                "ROSTER_EXTRA_FIELDS",
                f"{len(record)} isian, judul hanya {len(header)} kolom",
                f"{len(record)} fields but the header has {len(header)} columns",
            )
            return
        self.rows.append(_Row(line, record))

    def column(self, name: str) -> int | None:
        """1-based column of a header name."""
        return self.columns.get(name)

    def get(self, row: _Row, name: str) -> str:
        """A cell's text without surrounding spaces; blank when the column or cell is absent."""
        column = self.columns.get(name)
        if column is None or column > len(row.values):
            return ""
        return row.values[column - 1].strip()

    def error(self, row: _Row, name: str | None, code: str, pesan: str, message: str) -> None:
        """Record a problem at a row's cell."""
        self.errors.add(
            self.path, row.line, self.column(name) if name else None, code, pesan, message
        )

    def text(self, row: _Row, name: str, *, required: bool = True) -> str:
        """A cell's text; records an error when a required cell is blank."""
        value = self.get(row, name)
        if required and not value:
            self.error(
                row,
                name,
                "ROSTER_MISSING_VALUE",
                f"'{name}' harus diisi",
                f"'{name}' must not be blank",
            )
        return value

    def integer(
        self, row: _Row, name: str, low: int, high: int, *, required: bool = True
    ) -> int | None:
        """A whole number in [low, high]; records ROSTER_BAD_NUMBER otherwise."""
        value = self.get(row, name)
        if not value and not required:
            return None
        if not (value.isascii() and value.isdigit()) or not (low <= int(value) <= high):
            self.error(
                row,
                name,
                "ROSTER_BAD_NUMBER",
                f"'{name}' harus bilangan bulat {low}-{high}, tertulis '{value}'",
                f"'{name}' must be a whole number {low}-{high}, got '{value}'",
            )
            return None
        return int(value)

    def boolean(self, row: _Row, name: str, default: bool) -> bool:
        """true/false (also 1/0, ya/tidak); blank or absent means default."""
        value = self.get(row, name).lower()
        if not value:
            return default
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        self.error(
            row,
            name,
            "ROSTER_BAD_VALUE",
            f"'{name}' harus true atau false, tertulis '{value}'",
            f"'{name}' must be true or false, got '{value}'",
        )
        return default


def _duplicate(sheet: _Sheet, row: _Row, name: str, what: str, first_line: int) -> None:
    sheet.error(
        row,
        name,
        "ROSTER_DUPLICATE",
        f"{what} ganda (pertama di baris {first_line})",
        f"duplicate {what} (first on line {first_line})",
    )


def _read_election(sheet: _Sheet) -> ElectionRow | None:
    if len(sheet.rows) != 1:
        sheet.errors.add(
            sheet.path,
            sheet.header_line,
            None,
            "ROSTER_ONE_ELECTION",
            f"harus tepat satu baris pemilihan, ada {len(sheet.rows)}",
            f"must hold exactly one election row, found {len(sheet.rows)}",
        )
        return None
    row = sheet.rows[0]
    election_id = sheet.text(row, "id")
    if election_id and not _ELECTION_ID.match(election_id):
        sheet.error(
            row,
            "id",
            "ROSTER_BAD_VALUE",
            "id pemilihan tidak sah (contoh: pemilu-2024)",
            "invalid election id (e.g. pemilu-2024)",
        )
    kind = sheet.text(row, "kind")
    if kind and kind not in CONTESTS_OF_KIND:
        sheet.error(
            row,
            "kind",
            "ROSTER_BAD_VALUE",
            "kind harus pemilu atau pilkada",
            "kind must be pemilu or pilkada",
        )
    name = sheet.text(row, "name")
    day: date | None = None
    try:
        day = date.fromisoformat(sheet.text(row, "date"))
    except ValueError:
        sheet.error(
            row, "date", "ROSTER_BAD_VALUE", "tanggal harus YYYY-MM-DD", "date must be YYYY-MM-DD"
        )
    cap = sheet.integer(row, "max_dpt_per_tps", 1, MAX_COUNT)
    reserve: Decimal | None = None
    try:
        reserve = Decimal(sheet.text(row, "ballot_reserve_pct"))
        if not (0 <= reserve <= 100):
            raise InvalidOperation
    except InvalidOperation:
        sheet.error(
            row,
            "ballot_reserve_pct",
            "ROSTER_BAD_NUMBER",
            "ballot_reserve_pct harus angka 0-100 (contoh 2.0)",
            "ballot_reserve_pct must be a number 0-100 (e.g. 2.0)",
        )
        reserve = None
    if day is None or cap is None or reserve is None or kind not in CONTESTS_OF_KIND:
        return None
    return ElectionRow(election_id, kind, name, day, cap, reserve)


def _read_areas(sheet: _Sheet) -> dict[str, AreaRow]:
    areas: dict[str, AreaRow] = {}
    first_line: dict[str, int] = {}
    parent_refs: list[tuple[_Row, str]] = []
    for row in sheet.rows:
        code = sheet.text(row, "code")
        shape = next((lvl for rx, lvl in _LEVEL_OF_SHAPE.items() if rx.match(code)), None)
        if code and shape is None:
            sheet.error(
                row,
                "code",
                "ROSTER_BAD_CODE",
                f"kode wilayah '{code}' tidak sah (contoh 16, 16.07, 16.07.01, 16.07.01.1016)",
                f"area code '{code}' is not valid (e.g. 16, 16.07, 16.07.01, 16.07.01.1016)",
            )
            continue
        level_text = sheet.text(row, "level")
        if level_text and level_text != shape:
            sheet.error(
                row,
                "level",
                "ROSTER_BAD_LEVEL",
                f"level '{level_text}' tidak cocok dengan kode {code} ({shape})",
                f"level '{level_text}' does not match code {code} ({shape})",
            )
            continue
        if shape is None:
            continue
        name = sheet.text(row, "name")
        parent = sheet.get(row, "parent_code")
        if shape is AreaLevel.PROVINSI:
            if parent:
                sheet.error(
                    row,
                    "parent_code",
                    "ROSTER_BAD_PARENT",
                    "provinsi tidak punya induk",
                    "a provinsi has no parent",
                )
        elif parent != code.rsplit(".", 1)[0]:
            sheet.error(
                row,
                "parent_code",
                "ROSTER_BAD_PARENT",
                f"induk {code} harus {code.rsplit('.', 1)[0]}, tertulis '{parent}'",
                f"the parent of {code} must be {code.rsplit('.', 1)[0]}, got '{parent}'",
            )
        else:
            parent_refs.append((row, parent))
        kind = sheet.get(row, "kind").lower()
        if kind not in _KINDS_OF_LEVEL[shape]:
            allowed = " / ".join(k or "(kosong/blank)" for k in _KINDS_OF_LEVEL[shape])
            sheet.error(
                row,
                "kind",
                "ROSTER_BAD_VALUE",
                f"kind untuk {shape} harus {allowed}, tertulis '{kind}'",
                f"kind for {shape} must be {allowed}, got '{kind}'",
            )
        if code in first_line:
            _duplicate(sheet, row, "code", f"kode wilayah/area code {code}", first_line[code])
            continue
        first_line[code] = row.line
        areas[code] = AreaRow(code, shape, name, parent or None, kind or None)
    # Parents may come after their children in the file: check once all codes are known.
    for row, parent in parent_refs:
        if parent not in areas:
            sheet.error(
                row,
                "parent_code",
                "ROSTER_UNKNOWN_PARENT",
                f"kode induk '{parent}' tidak ada di {sheet.path.name}",
                f"parent code '{parent}' is not in {sheet.path.name}",
            )
    return areas


def _read_tps(sheet: _Sheet, areas: dict[str, AreaRow], cap: int | None) -> list[TpsRow]:
    tps: list[TpsRow] = []
    first_line: dict[str, int] = {}
    for row in sheet.rows:
        desa_code = sheet.text(row, "desa_code")
        area = areas.get(desa_code)
        if desa_code and area is None:
            sheet.error(
                row,
                "desa_code",
                "ROSTER_UNKNOWN_AREA",
                f"desa '{desa_code}' tidak ada di areas.csv",
                f"desa '{desa_code}' is not in areas.csv",
            )
        elif area is not None and area.level is not AreaLevel.DESA:
            sheet.error(
                row,
                "desa_code",
                "ROSTER_NOT_A_DESA",
                f"'{desa_code}' adalah {area.level}, TPS harus di bawah desa/kelurahan",
                f"'{desa_code}' is a {area.level}; a TPS must belong to a desa/kelurahan",
            )
            area = None
        number = sheet.integer(row, "number", 1, 999)
        dpt_l = sheet.integer(row, "dpt_l", 0, MAX_COUNT)
        dpt_p = sheet.integer(row, "dpt_p", 0, MAX_COUNT)
        generated = sheet.boolean(row, "generated", default=False)
        if dpt_l is not None and dpt_p is not None and cap is not None and dpt_l + dpt_p > cap:
            sheet.error(
                row,
                "dpt_l",
                "ROSTER_DPT_ABOVE_CAP",
                f"DPT {dpt_l}+{dpt_p}={dpt_l + dpt_p} melebihi batas {cap} per TPS",
                f"DPT {dpt_l}+{dpt_p}={dpt_l + dpt_p} is above the cap of {cap} per TPS",
            )
        if area is None or number is None or dpt_l is None or dpt_p is None:
            continue
        code = f"{desa_code}.{number:03d}"
        if code in first_line:
            _duplicate(sheet, row, "number", f"TPS {code}", first_line[code])
            continue
        first_line[code] = row.line
        tps.append(TpsRow(code, desa_code, number, dpt_l, dpt_p, generated))
    return tps


def _read_contests(
    sheet: _Sheet, kind: str | None
) -> tuple[dict[Contest, str], dict[Contest, _Row]]:
    contests: dict[Contest, str] = {}
    rows: dict[Contest, _Row] = {}
    for row in sheet.rows:
        text = sheet.text(row, "contest")
        name = sheet.text(row, "name")
        try:
            contest = Contest(text)
        except ValueError:
            if text:
                sheet.error(
                    row,
                    "contest",
                    "ROSTER_UNKNOWN_CONTEST",
                    f"kode kontestasi '{text}' tidak dikenal ({', '.join(Contest)})",
                    f"unknown contest code '{text}' ({', '.join(Contest)})",
                )
            continue
        if kind in CONTESTS_OF_KIND and contest not in CONTESTS_OF_KIND[kind]:
            sheet.error(
                row,
                "contest",
                "ROSTER_CONTEST_NOT_IN_ELECTION",
                f"{contest} bukan kontestasi {kind}",
                f"{contest} is not a contest of a {kind}",
            )
            continue
        if contest in rows:
            _duplicate(sheet, row, "contest", f"kontestasi/contest {contest}", rows[contest].line)
            continue
        contests[contest] = name
        rows[contest] = row
    return contests, rows


def _read_parties(sheet: _Sheet | None) -> list[tuple[int, str, str]]:
    if sheet is None:
        return []
    parties: list[tuple[int, str, str]] = []
    first_line: dict[int, int] = {}
    for row in sheet.rows:
        nomor = sheet.integer(row, "nomor", 1, 999)
        short_name = sheet.text(row, "short_name")
        name = sheet.text(row, "name")
        if nomor is None:
            continue
        if nomor in first_line:
            _duplicate(sheet, row, "nomor", f"nomor partai/party number {nomor}", first_line[nomor])
            continue
        first_line[nomor] = row.line
        parties.append((nomor, short_name, name))
    return parties


def _read_candidates(
    sheet: _Sheet, contests: dict[Contest, str], parties: set[int]
) -> list[CandidateRow]:
    candidates: list[CandidateRow] = []
    first_line: dict[tuple[Contest, int | None, int], int] = {}
    for row in sheet.rows:
        text = sheet.text(row, "contest")
        contest = next((c for c in contests if c.value == text), None)
        if contest is None:
            if text:
                sheet.error(
                    row,
                    "contest",
                    "ROSTER_UNKNOWN_CONTEST",
                    f"kontestasi '{text}' tidak ada di contests.csv",
                    f"contest '{text}' is not in contests.csv",
                )
            continue
        party = sheet.integer(row, "party", 1, 999, required=False)
        if contest in PARTY_LIST_CONTESTS:
            if party is None and not sheet.get(row, "party"):
                sheet.error(
                    row,
                    "party",
                    "ROSTER_PARTY_REQUIRED",
                    f"calon {contest} harus punya nomor partai",
                    f"a {contest} candidate needs a party number",
                )
                continue
            if party is not None and party not in parties:
                sheet.error(
                    row,
                    "party",
                    "ROSTER_UNKNOWN_PARTY",
                    f"partai nomor {party} tidak ada di parties.csv",
                    f"party number {party} is not in parties.csv",
                )
                continue
        elif sheet.get(row, "party"):
            sheet.error(
                row,
                "party",
                "ROSTER_PARTY_NOT_ALLOWED",
                f"calon {contest} tidak diisi per partai, kosongkan kolom party",
                f"{contest} candidates are not per party; leave party blank",
            )
            continue
        nomor = sheet.integer(row, "nomor", 1, 999)
        name = sheet.text(row, "name")
        generated = sheet.boolean(row, "generated", default=False)
        if nomor is None or (contest in PARTY_LIST_CONTESTS and party is None):
            continue
        key = (contest, party, nomor)
        if key in first_line:
            what = f"calon/candidate {contest} {party or ''} {nomor}".replace("  ", " ")
            _duplicate(sheet, row, "nomor", what, first_line[key])
            continue
        first_line[key] = row.line
        candidates.append(CandidateRow(contest, party, nomor, name, generated))
    return candidates


def _read_operators(sheet: _Sheet | None, areas: dict[str, AreaRow]) -> list[OperatorRow] | None:
    if sheet is None:
        return None
    operators: list[OperatorRow] = []
    first_id: dict[str, int] = {}
    first_phone: dict[str, int] = {}
    phone_column = sheet.column("phone") or 0
    for row in sheet.rows:
        operator_id = sheet.text(row, "id")
        if operator_id and not _OPERATOR_ID.match(operator_id):
            sheet.error(
                row,
                "id",
                "ROSTER_BAD_VALUE",
                "id operator: huruf kecil, angka, titik, '-' atau '_' (contoh op-16.07.01)",
                "operator id: lower-case letters, digits, '.', '-' or '_' (e.g. op-16.07.01)",
            )
            continue
        name = sheet.text(row, "name")
        role_text = sheet.text(row, "role")
        try:
            role = Role(role_text)
        except ValueError:
            if role_text:
                sheet.error(
                    row,
                    "role",
                    "ROSTER_BAD_VALUE",
                    f"peran '{role_text}' tidak dikenal ({', '.join(Role)})",
                    f"unknown role '{role_text}' ({', '.join(Role)})",
                )
            continue
        scope = tuple(part for part in re.split(r"[;\s]+", sheet.get(row, "scope")) if part)
        unknown = [code for code in scope if code not in areas]
        if unknown:
            sheet.error(
                row,
                "scope",
                "ROSTER_UNKNOWN_AREA",
                f"wilayah {', '.join(unknown)} tidak ada di areas.csv",
                f"area(s) {', '.join(unknown)} not in areas.csv",
            )
        if not scope and role in (Role.OPERATOR, Role.CAMAT):
            sheet.error(
                row,
                "scope",
                "ROSTER_MISSING_VALUE",
                f"{role} harus punya wilayah (scope)",
                f"a {role} needs a scope",
            )
        phone = sheet.get(row, "phone") or None
        if phone is not None and not _PHONE.match(phone):
            sheet.error(
                row,
                "phone",
                "ROSTER_BAD_PHONE",
                f"nomor '{phone}' harus format internasional tanpa '+', contoh "
                "6281234567890 (bukan 0812...)",
                f"number '{phone}' must be E.164 without '+', e.g. 6281234567890 (not 0812...)",
            )
            phone = None
        active = sheet.boolean(row, "active", default=True)
        demo = sheet.boolean(row, "demo", default=False)
        if operator_id in first_id:
            _duplicate(sheet, row, "id", f"operator {operator_id}", first_id[operator_id])
            continue
        if phone is not None and phone in first_phone:
            _duplicate(sheet, row, "phone", f"nomor/phone {phone}", first_phone[phone])
            continue
        first_id[operator_id] = row.line
        if phone is not None:
            first_phone[phone] = row.line
        operators.append(
            OperatorRow(operator_id, name, role, scope, phone, active, demo, row.line, phone_column)
        )
    return operators


def _content_hash(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_roster_folder(folder: Path) -> RosterFolder:
    """Read and check every file of a roster folder; raises RosterFileError listing all problems."""
    if not folder.is_dir():
        raise RosterFileError(
            str(folder),
            None,
            None,
            "folder roster tidak ada / roster folder not found",
            code="ROSTER_NO_FOLDER",
        )
    errors = _Errors()
    present = {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix == ".csv"}
    for name in sorted(set(present) - set(REQUIRED_FILES) - set(OPTIONAL_FILES)):
        errors.add(
            present[name],
            None,
            None,
            "ROSTER_UNKNOWN_FILE",
            f"berkas tidak dikenal (berkas: {', '.join(REQUIRED_FILES + OPTIONAL_FILES)})",
            f"unknown file (files: {', '.join(REQUIRED_FILES + OPTIONAL_FILES)})",
        )
    for name in REQUIRED_FILES:
        if name not in present:
            errors.add(
                folder / name,
                None,
                None,
                "ROSTER_MISSING_FILE",
                "berkas wajib tidak ada",
                "required file is missing",
            )
    errors.raise_if_any()

    def sheet(name: str, required: Sequence[str], optional: Sequence[str] = ()) -> _Sheet:
        return _Sheet(present[name], required, optional, errors)

    def optional_sheet(
        name: str, required: Sequence[str], optional: Sequence[str] = ()
    ) -> _Sheet | None:
        return sheet(name, required, optional) if name in present else None

    election_sheet = sheet(
        "election.csv", ("id", "kind", "name", "date", "max_dpt_per_tps", "ballot_reserve_pct")
    )
    area_sheet = sheet("areas.csv", ("code", "level", "name", "parent_code"), ("kind",))
    tps_sheet = sheet("tps.csv", ("desa_code", "number", "dpt_l", "dpt_p"), ("generated",))
    contest_sheet = sheet("contests.csv", ("contest", "name"))
    party_sheet = optional_sheet("parties.csv", ("nomor", "short_name", "name"))
    candidate_sheet = sheet("candidates.csv", ("contest", "nomor", "name"), ("party", "generated"))
    operator_sheet = optional_sheet(
        "operators.csv", ("id", "name", "role", "scope"), ("phone", "active", "demo")
    )
    errors.raise_if_any()  # a bad header makes every row's errors noise

    election = _read_election(election_sheet)
    areas = _read_areas(area_sheet)
    tps = _read_tps(tps_sheet, areas, election.max_dpt_per_tps if election else None)
    contests, contest_rows = _read_contests(contest_sheet, election.kind if election else None)
    parties = _read_parties(party_sheet)
    candidates = _read_candidates(candidate_sheet, contests, {p[0] for p in parties})
    operators = _read_operators(operator_sheet, areas)

    with_candidates = Counter(c.contest for c in candidates)
    for contest, row in contest_rows.items():
        if contest in PARTY_LIST_CONTESTS and not parties:
            contest_sheet.error(
                row,
                "contest",
                "ROSTER_NO_PARTIES",
                f"{contest} butuh parties.csv berisi partai",
                f"{contest} needs parties in parties.csv",
            )
        elif contest not in PARTY_LIST_CONTESTS and not with_candidates[contest]:
            contest_sheet.error(
                row,
                "contest",
                "ROSTER_NO_CANDIDATES",
                f"{contest} belum punya calon di candidates.csv",
                f"{contest} has no candidates in candidates.csv",
            )
    if not tps:
        errors.add(tps_sheet.path, None, None, "ROSTER_NO_TPS", "tidak ada TPS", "no TPS rows")
    errors.raise_if_any()
    assert election is not None
    return RosterFolder(
        folder=folder,
        content_hash=_content_hash(present.values()),
        election=election,
        areas=sorted(areas.values(), key=lambda a: a.code),
        tps=tps,
        contests=contests,
        parties=parties,
        candidates=candidates,
        operators=operators,
    )
