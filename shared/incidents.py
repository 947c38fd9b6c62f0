"""Incident reports (laporan kejadian): categories, severities, status changes. Pure, no I/O.

The one table of categories with their default severity lives here: the intake's parser, the
recorder, the api, the screener's alert rules and the simulator all read it, so a category or a
severity changed here holds everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_TEXT_CHARS = 1000
"""The longest incident text kept (a WhatsApp message is up to 4096; a report is a few lines)."""

MAX_NOTE_CHARS = 1000


class IncidentSeverity(StrEnum):
    """How urgent an incident is, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_RANK: dict[IncidentSeverity, int] = {
    IncidentSeverity.CRITICAL: 4,
    IncidentSeverity.HIGH: 3,
    IncidentSeverity.MEDIUM: 2,
    IncidentSeverity.LOW: 1,
}

SEVERITY_NAMES: dict[IncidentSeverity, str] = {
    IncidentSeverity.CRITICAL: "KRITIS",
    IncidentSeverity.HIGH: "tinggi",
    IncidentSeverity.MEDIUM: "sedang",
    IncidentSeverity.LOW: "rendah",
}


class IncidentCategory(StrEnum):
    """What happened at the TPS."""

    KERICUHAN = "kericuhan"
    INTIMIDASI = "intimidasi"
    LOGISTIK = "logistik"
    PETUGAS = "petugas"
    BENCANA = "bencana"
    PSU = "psu"
    LAINNYA = "lainnya"


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """A category: its name for people, its default severity and the words operators type."""

    category: IncidentCategory
    name: str
    name_en: str
    severity: IncidentSeverity
    words: tuple[str, ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        IncidentCategory.KERICUHAN,
        "Kericuhan/konflik",
        "Unrest/conflict",
        IncidentSeverity.CRITICAL,
        ("KERICUHAN", "RICUH", "KONFLIK", "BENTROK", "BENTROKAN", "KEKERASAN", "KERUSUHAN"),
    ),
    CategorySpec(
        IncidentCategory.INTIMIDASI,
        "Intimidasi/politik uang",
        "Intimidation/vote buying",
        IncidentSeverity.HIGH,
        (
            "INTIMIDASI",
            "ANCAMAN",
            "POLITIK UANG",
            "POLITIKUANG",
            "MONEY POLITIC",
            "MONEY POLITICS",
            "SERANGAN FAJAR",
            "SUAP",
        ),
    ),
    CategorySpec(
        IncidentCategory.LOGISTIK,
        "Logistik (surat suara kurang/rusak)",
        "Logistics (ballots missing/damaged)",
        IncidentSeverity.HIGH,
        (
            "LOGISTIK",
            "SURAT SUARA",
            "SURATSUARA",
            "SURAT SUARA KURANG",
            "SURAT SUARA RUSAK",
            "KOTAK SUARA",
            "BILIK",
        ),
    ),
    CategorySpec(
        IncidentCategory.PETUGAS,
        "Petugas/KPPS",
        "Poll workers (KPPS)",
        IncidentSeverity.MEDIUM,
        ("PETUGAS", "KPPS", "PANITIA", "SAKSI", "PENGAWAS"),
    ),
    CategorySpec(
        IncidentCategory.BENCANA,
        "Bencana/cuaca",
        "Disaster/weather",
        IncidentSeverity.HIGH,
        ("BENCANA", "CUACA", "BANJIR", "HUJAN", "KEBAKARAN", "LONGSOR", "ANGIN"),
    ),
    CategorySpec(
        IncidentCategory.PSU,
        "Tuntutan PSU",
        "Demand for a repeat vote (PSU)",
        IncidentSeverity.CRITICAL,
        ("PSU", "TUNTUTAN PSU", "PEMUNGUTAN SUARA ULANG", "COBLOS ULANG", "HITUNG ULANG"),
    ),
    CategorySpec(
        IncidentCategory.LAINNYA,
        "Lainnya",
        "Other",
        IncidentSeverity.LOW,
        ("LAINNYA", "LAIN", "LAIN LAIN", "LAIN-LAIN", "UMUM", "LAINYA"),
    ),
)

SPEC_OF: dict[IncidentCategory, CategorySpec] = {spec.category: spec for spec in CATEGORIES}


def _key(word: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", word.upper())


_BY_WORD: dict[str, IncidentCategory] = {
    _key(word): spec.category for spec in CATEGORIES for word in (*spec.words, spec.category.value)
}


def category_of(word: str) -> IncidentCategory | None:
    """The category an operator meant by a word ('Surat suara', 'ricuh', 'PSU'), or None."""
    return _BY_WORD.get(_key(word))


def default_severity(category: IncidentCategory) -> IncidentSeverity:
    """The severity an incident of this category gets when reported."""
    return SPEC_OF[category].severity


def category_words() -> str:
    """The category words for a help text: 'kericuhan, intimidasi, ...'."""
    return ", ".join(spec.category.value for spec in CATEGORIES)


class IncidentStatus(StrEnum):
    """Where an incident stands on the desk."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"


class IncidentAction(StrEnum):
    """What a camat or admin does with an incident."""

    ACKNOWLEDGE = "acknowledge"
    FOLLOW_UP = "follow_up"
    CLOSE = "close"


_NEXT: dict[tuple[IncidentStatus, IncidentAction], IncidentStatus] = {
    (IncidentStatus.OPEN, IncidentAction.ACKNOWLEDGE): IncidentStatus.ACKNOWLEDGED,
    (IncidentStatus.OPEN, IncidentAction.FOLLOW_UP): IncidentStatus.FOLLOWED_UP,
    (IncidentStatus.ACKNOWLEDGED, IncidentAction.FOLLOW_UP): IncidentStatus.FOLLOWED_UP,
    (IncidentStatus.FOLLOWED_UP, IncidentAction.FOLLOW_UP): IncidentStatus.FOLLOWED_UP,
    (IncidentStatus.OPEN, IncidentAction.CLOSE): IncidentStatus.CLOSED,
    (IncidentStatus.ACKNOWLEDGED, IncidentAction.CLOSE): IncidentStatus.CLOSED,
    (IncidentStatus.FOLLOWED_UP, IncidentAction.CLOSE): IncidentStatus.CLOSED,
}


def next_status(current: IncidentStatus, action: IncidentAction) -> IncidentStatus | None:
    """The status after an action, or None when the action does not apply (e.g. closed)."""
    return _NEXT.get((current, action))


def kecamatan_of(area_code: str) -> str:
    """The kecamatan code of a desa or TPS code: '16.07.01.1016.001' -> '16.07.01'."""
    return ".".join(area_code.split(".")[:3])


def desa_of(area_code: str) -> str:
    """The desa code of a desa or TPS code."""
    return ".".join(area_code.split(".")[:4])


TPS_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}\.\d{3}$")
DESA_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


def is_incident_area(code: str) -> bool:
    """True for a dotted TPS or desa code (the places an incident can be reported at)."""
    return bool(TPS_CODE.match(code) or DESA_CODE.match(code))
