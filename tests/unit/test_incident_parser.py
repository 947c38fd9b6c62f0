"""The incident report reader (services/intake/incident_parser.py) and the category table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.incident_parser import (
    ERROR_CODES,
    INCIDENT_AREA_CODE,
    INCIDENT_EMPTY,
    INCIDENT_NO_TEXT,
    INCIDENT_TOO_LONG,
    INCIDENT_UNKNOWN_CATEGORY,
    IncidentParsed,
    format_readback,
    is_incident_message,
    parse_incident,
    read_area,
)
from services.intake.parser import ParseError, parse_message
from shared.incidents import (
    CATEGORIES,
    IncidentAction,
    IncidentCategory,
    IncidentSeverity,
    IncidentStatus,
    category_of,
    default_severity,
    next_status,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "WHATSAPP_FORMAT.md"
TPS = "16.07.01.1016.001"


def ok(text: str) -> IncidentParsed:
    result = parse_incident(text)
    assert isinstance(result, IncidentParsed), result
    return result


def error(text: str) -> ParseError:
    result = parse_incident(text)
    assert isinstance(result, ParseError), result
    assert result.code in ERROR_CODES
    assert result.pesan and result.message and "KEJADIAN#" in result.hint
    return result


@pytest.mark.parametrize(
    "text",
    [
        "KEJADIAN#1607011016001#logistik#Surat suara kurang",
        "kejadian#16.07.01.1016.001#LOGISTIK#Surat suara kurang",
        " *KEJADIAN* # 1607011016001 # Surat Suara # Surat suara kurang ",
        "KEJADIAN#1607011016#1#logistik#Surat suara kurang",
        "KEJADIAN\nTPS 1607011016001\nKategori: logistik\nSurat suara kurang",
        "KEJADIAN\n\nTPS: 16.07.01.1016.001\nlogistik\nKeterangan: Surat suara kurang\n",
        "Laporan kejadian\nDesa 1607011016 TPS 1\nlogistik\nSurat suara kurang",
        "INSIDEN#1607011016 TPS 001#logistik#Surat suara kurang",
        "KEJADIAN#1607011016001#logistik#Surat suara kurang\u200b",
    ],
)
def test_layouts_read_the_same_report(text: str) -> None:
    assert ok(text) == IncidentParsed(TPS, IncidentCategory.LOGISTIK, "Surat suara kurang")


def test_desa_code_and_multiline_text_with_hash() -> None:
    assert ok("KEJADIAN#1607011016#banjir#air naik #2").area == "16.07.01.1016"
    parsed = ok("KEJADIAN#1607011016001#ricuh#baris satu\nbaris #dua")
    assert parsed.text == "baris satu\nbaris #dua"
    assert parsed.category is IncidentCategory.KERICUHAN


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("KEJADIAN", INCIDENT_EMPTY),
        ("KEJADIAN#16070110#logistik#x", INCIDENT_AREA_CODE),
        ("KEJADIAN#Desa Mariana#logistik#x", INCIDENT_AREA_CODE),
        ("KEJADIAN#1607011016#0#logistik#x", INCIDENT_AREA_CODE),
        ("KEJADIAN#1607011016001#gempa#x", INCIDENT_UNKNOWN_CATEGORY),
        ("KEJADIAN#1607011016001#logistik", INCIDENT_NO_TEXT),
        ("KEJADIAN#1607011016001#logistik#   ", INCIDENT_NO_TEXT),
        ("KEJADIAN#1607011016001#logistik#" + "x" * 1001, INCIDENT_TOO_LONG),
        ("KEJADIAN#1607011016001#logistik#" + "x" * 6000, INCIDENT_TOO_LONG),
    ],
)
def test_error_codes(text: str, code: str) -> None:
    assert error(text).code == code


def test_the_limit_is_a_thousand_characters() -> None:
    assert len(ok("KEJADIAN#1607011016001#lainnya#" + "x" * 1000).text) == 1000


def test_incidents_are_told_from_forms() -> None:
    assert is_incident_message("KEJADIAN#1607011016001#psu#x")
    assert is_incident_message("  *Kejadian*\nTPS 1")
    assert is_incident_message("Laporan Kejadian\nTPS 1")
    assert not is_incident_message("LAPORAN\nPPWP")  # 'laporan' alone is not the keyword
    assert not is_incident_message("PPWP#1607011016001#120#250#80#450#5")
    assert not is_incident_message("bantuan")
    # The form parser never mistakes a report for a form (it is refused there, not counted).
    assert isinstance(parse_message("KEJADIAN#1607011016001#psu#x", election="e"), ParseError)


@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    result = parse_incident("KEJADIAN#" + text)
    assert isinstance(result, IncidentParsed | ParseError)


@given(
    st.sampled_from([c.category for c in CATEGORIES]),
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="#*_~`"),
        min_size=1,
        max_size=200,
    ).filter(lambda t: t.strip() and ":" not in t and "=" not in t),
)
def test_round_trip_of_any_category_and_text(category: IncidentCategory, text: str) -> None:
    parsed = ok(f"KEJADIAN#{TPS}#{category.value}#{text}")
    assert parsed.category is category
    assert parsed.text == text.strip()


def test_read_area_forms() -> None:
    assert read_area("1607011016001") == TPS
    assert read_area("16.07.01.1016.001") == TPS
    assert read_area("Desa 16.07.01.1016 TPS 12") == "16.07.01.1016.012"
    assert read_area("kode desa: 1607011016") == "16.07.01.1016"
    assert read_area("16070110160") is None
    assert read_area("TPS 1") is None


def test_every_category_has_a_severity_and_its_words() -> None:
    assert {c.category for c in CATEGORIES} == set(IncidentCategory)
    assert default_severity(IncidentCategory.KERICUHAN) is IncidentSeverity.CRITICAL
    assert default_severity(IncidentCategory.PSU) is IncidentSeverity.CRITICAL
    assert default_severity(IncidentCategory.LAINNYA) is IncidentSeverity.LOW
    for spec in CATEGORIES:
        assert category_of(spec.category.value) is spec.category
        for word in spec.words:
            assert category_of(word.lower()) is spec.category, word
    assert category_of("politik-uang") is IncidentCategory.INTIMIDASI
    assert category_of("gempa") is None


def test_status_changes() -> None:
    s, a = IncidentStatus, IncidentAction
    assert next_status(s.OPEN, a.ACKNOWLEDGE) is s.ACKNOWLEDGED
    assert next_status(s.ACKNOWLEDGED, a.ACKNOWLEDGE) is None
    assert next_status(s.ACKNOWLEDGED, a.FOLLOW_UP) is s.FOLLOWED_UP
    assert next_status(s.FOLLOWED_UP, a.FOLLOW_UP) is s.FOLLOWED_UP
    assert next_status(s.FOLLOWED_UP, a.CLOSE) is s.CLOSED
    for action in IncidentAction:
        assert next_status(s.CLOSED, action) is None


# --- the operator guide -----------------------------------------------------------------------


def doc_blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_every_report_in_the_guide_parses_and_every_wrong_one_is_refused() -> None:
    good = doc_blocks("kejadian")
    assert len(good) >= 4
    for block in good:
        assert is_incident_message(block)
        ok(block)
    bad = doc_blocks("kejadian-salah")
    assert len(bad) >= 3
    for block in bad:
        error(block)


def test_read_back_in_the_guide_is_the_real_one() -> None:
    (example,) = doc_blocks("balasan-kejadian")
    parsed = ok(doc_blocks("kejadian")[0])
    assert example.strip() == format_readback(parsed, "1a2b3c4d-0000")


def test_category_table_in_the_guide_is_the_code_s() -> None:
    names = {"kritis": "critical", "tinggi": "high", "sedang": "medium", "rendah": "low"}
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| (\w+) \|$", DOC.read_text(), flags=re.M)
    assert {r[0] for r in rows} == {c.value for c in IncidentCategory}
    for code, words, severity in rows:
        category = IncidentCategory(code)
        assert default_severity(category).value == names[severity], code
        for word in words.split(","):
            assert category_of(word.strip()) is category, word
