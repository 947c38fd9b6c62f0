"""Tolerant reader of incident reports (laporan kejadian) typed as WhatsApp or SMS text.

Two layouts, one grammar (docs/WHATSAPP_FORMAT.md, section "Laporan kejadian"):

    KEJADIAN#16.07.01.1016.001#logistik#Surat suara kurang 20 lembar

    KEJADIAN
    TPS 1607011016001
    Kategori: logistik
    Surat suara kurang 20 lembar

Pure: no I/O. Whether the TPS or desa exists and whether the sender may report there is the
intake's business (services/intake/incidents.py); the parser checks the shape only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.intake.parser import ParseError
from shared.incidents import (
    MAX_TEXT_CHARS,
    SEVERITY_NAMES,
    SPEC_OF,
    IncidentCategory,
    category_of,
    category_words,
    default_severity,
)

# A report is a few lines; far longer is not a report (and WhatsApp caps at 4,096 anyway).
MAX_MESSAGE_CHARS = 5_000

INCIDENT_EMPTY = "INCIDENT_EMPTY"
INCIDENT_TOO_LONG = "INCIDENT_TOO_LONG"
INCIDENT_AREA_CODE = "INCIDENT_AREA_CODE"
INCIDENT_UNKNOWN_CATEGORY = "INCIDENT_UNKNOWN_CATEGORY"
INCIDENT_NO_TEXT = "INCIDENT_NO_TEXT"

ERROR_CODES = frozenset(
    {INCIDENT_EMPTY, INCIDENT_TOO_LONG, INCIDENT_AREA_CODE, INCIDENT_UNKNOWN_CATEGORY,
     INCIDENT_NO_TEXT}
)  # fmt: skip

_KEYWORDS = frozenset({"KEJADIAN", "LAPORANKEJADIAN", "LAPORKEJADIAN", "INSIDEN", "LAPORAN"})
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_MARKUP = "*_~`"
_PREFIX = r"(?:(?:KODE|NO|NOMOR)\s*)?(?:TPS|DESA|KELURAHAN|KEL|WILAYAH|LOKASI|KODE)?\s*[:=.]?\s*"
_DESA = r"(\d{2})\.?(\d{2})\.?(\d{2})\.?(\d{4})"
_TPS_NO = r"(?:NO\.?\s*)?(?:TPS\s*)?(?:NO\.?\s*)?[-:=.]?\s*(\d{1,3})"
_AREA = re.compile(
    rf"^{_PREFIX}{_DESA}(?:(\d{{3}})|(?:\s*[./,]\s*|\s+|(?=TPS|NO)){_TPS_NO})?$", re.IGNORECASE
)
_LABEL = re.compile(r"^([A-Za-z][A-Za-z ]{1,20}?)\s*[:=]\s*(.*)$", re.DOTALL)
_CATEGORY_LABELS = frozenset({"KATEGORI", "JENIS", "JENIS KEJADIAN", "KAT"})
_TEXT_LABELS = frozenset({"KETERANGAN", "KET", "ISI", "URAIAN", "LAPORAN", "KRONOLOGI", "PESAN"})

HINT = (
    "Format laporan kejadian:\n"
    "KEJADIAN#<kode TPS atau desa>#<kategori>#<uraian singkat>\n"
    "Contoh: KEJADIAN#1607011016001#logistik#Surat suara kurang 20 lembar\n"
    f"Kategori: {category_words()}."
)


@dataclass(frozen=True)
class IncidentParsed:
    """A report read from a text: where (TPS or desa code, dotted), what, and the words."""

    area: str
    category: IncidentCategory
    text: str


IncidentParseResult = IncidentParsed | ParseError


def _clean(part: str) -> str:
    return part.strip().strip(_MARKUP).strip()


def is_incident_message(text: str) -> bool:
    """True when a text starts with the incident keyword (KEJADIAN, LAPORAN KEJADIAN, INSIDEN)."""
    first = _INVISIBLE.sub("", text).lstrip().split("\n", 1)[0].split("#", 1)[0]
    key = re.sub(r"[^A-Z]", "", _clean(first).upper())
    return key in _KEYWORDS and (key != "LAPORAN" or "KEJADIAN" in text.upper())


def read_area(raw: str) -> str | None:
    """A TPS code ('16.07.01.1016.001', '1607011016001', 'Desa 1607011016 TPS 1') or desa code."""
    match = _AREA.match(" ".join(_clean(raw).upper().split()))
    if match is None:
        return None
    desa = ".".join(match.group(i) for i in range(1, 5))
    number = match.group(5) or match.group(6)
    if number is None:
        return desa
    if int(number) == 0:
        return None
    return f"{desa}.{int(number):03d}"


def _fail(code: str, pesan: str, message: str) -> ParseError:
    return ParseError(code, pesan, message, HINT)


def _show(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:37] + "..."


def _fields(text: str) -> list[tuple[str, str, str]]:
    """The fields after the keyword: cleaned, what preceded it ('#' or a new line), as typed."""
    fields: list[tuple[str, str, str]] = []
    lines = [line for line in _INVISIBLE.sub("", text).strip().splitlines() if line.strip()]
    for line in lines:
        for n, part in enumerate(line.split("#")):
            if _clean(part):
                fields.append((_clean(part), "#" if n else "\n", part))
    return fields[1:]  # without the keyword


_TPS_NUMBER = re.compile(r"^(?:NO\.?\s*)?(?:TPS\s*)?(?:NO\.?\s*)?[-:=.]?\s*(\d{1,3})$", re.I)


def _read_place(fields: list[tuple[str, str, str]]) -> tuple[str | None, int]:
    """The area of the first field (or of a desa code and a TPS number field); fields used."""
    area = read_area(fields[0][0])
    if area is not None and area.count(".") == 3 and len(fields) > 1:
        number = _TPS_NUMBER.match(fields[1][0])
        if number is not None:
            return (f"{area}.{int(number.group(1)):03d}" if int(number.group(1)) else None), 2
    return area, 1


def _area_error(field: str) -> ParseError:
    return _fail(
        INCIDENT_AREA_CODE,
        f"Kode TPS atau desa tidak terbaca: '{_show(field)}'. Tulis kode TPS 13 angka "
        "(1607011016001) atau kode desa 10 angka.",
        f"TPS or desa code not readable: '{_show(field)}'. Write the 13-digit TPS code "
        "or the 10-digit desa code.",
    )


def _category_error(value: str) -> ParseError:
    return _fail(
        INCIDENT_UNKNOWN_CATEGORY,
        f"Kategori '{_show(value)}' tidak dikenal. Pilih salah satu: {category_words()}.",
        f"Unknown category '{_show(value)}'. Use one of: {category_words()}.",
    )


def _labelled(field: str, labels: frozenset[str]) -> str:
    """The value of 'Label: value' when the label is one of labels, else the field itself."""
    label = _LABEL.match(field)
    if label and " ".join(label.group(1).upper().split()) in labels:
        return label.group(2)
    return field


def parse_incident(text: str) -> IncidentParseResult:
    """Read one incident report; never raises."""
    if len(text) > MAX_MESSAGE_CHARS:
        return _fail(
            INCIDENT_TOO_LONG,
            f"Laporan terlalu panjang (lebih dari {MAX_TEXT_CHARS} huruf uraian).",
            f"Report too long (over {MAX_TEXT_CHARS} characters of text).",
        )
    fields = _fields(text)
    if not fields:
        return _fail(
            INCIDENT_EMPTY,
            "Laporan kejadian kosong: tulis kode TPS, kategori dan uraiannya.",
            "Empty incident report: give the TPS code, the category and a description.",
        )
    area, used = _read_place(fields)
    if area is None:
        return _area_error(" ".join(f[0] for f in fields[:used]))
    category: IncidentCategory | None = None
    if len(fields) > used:
        value = _clean(_labelled(fields[used][0], _CATEGORY_LABELS))
        category = category_of(value)
        if category is None:
            return _category_error(value)
    body = ""
    for field, joiner, raw in fields[used + 1 :]:
        if body and joiner == "#":  # the description itself may hold '#': kept as typed
            body += f"#{raw}"
        else:
            value = _labelled(raw.lstrip() if body else field, _TEXT_LABELS)
            body = f"{body}\n{value}" if body else value
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip()
    if category is None or not body:
        return _fail(
            INCIDENT_NO_TEXT,
            "Uraian kejadian belum ada: tulis apa yang terjadi sesudah kategori.",
            "No description: write what happened after the category.",
        )
    if len(body) > MAX_TEXT_CHARS:
        return _fail(
            INCIDENT_TOO_LONG,
            f"Uraian terlalu panjang ({len(body)} huruf, paling banyak {MAX_TEXT_CHARS}). "
            "Ringkas, lalu kirim ulang.",
            f"Description too long ({len(body)} characters, at most {MAX_TEXT_CHARS}).",
        )
    return IncidentParsed(area=area, category=category, text=body)


def format_readback(parsed: IncidentParsed, incident_id: str) -> str:
    """The confirmation to the sender, in Indonesian: what the desk read and recorded."""
    spec = SPEC_OF[parsed.category]
    where = f"TPS {parsed.area}" if parsed.area.count(".") == 4 else f"Desa {parsed.area}"
    severity = SEVERITY_NAMES[default_severity(parsed.category)]
    text = parsed.text if len(parsed.text) <= 300 else parsed.text[:297] + "..."
    return (
        f"Laporan kejadian diterima: {spec.name} (tingkat {severity})\n"
        f"{where}\n"
        f"Uraian: {text}\n"
        f"No. laporan: {incident_id[:8]}\n"
        "Desk pemilu akan menindaklanjuti. Kirim laporan baru bila ada perkembangan."
    )
