"""Tolerant reader of TPS results typed as WhatsApp or SMS text (docs/WHATSAPP_FORMAT.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from shared.form import STRUCTURAL_MAX, CHasil, Contest, SuaraPartai

# WhatsApp caps a text at 4,096 characters; anything far longer is not a result form.
MAX_MESSAGE_CHARS = 10_000
# Digits allowed in one number: enough for STRUCTURAL_MAX, and keeps int() away from huge strings.
_MAX_DIGITS = len(str(STRUCTURAL_MAX))


@dataclass(frozen=True)
class ParseOk:
    """A message read as one C.Hasil form."""

    form: CHasil


@dataclass(frozen=True)
class ParseError:
    """A message that could not be read: stable code, reasons in Indonesian and English, format."""

    code: str
    pesan: str
    message: str
    hint: str  # the expected format, in Indonesian


ParseResult = ParseOk | ParseError

PARSE_EMPTY = "PARSE_EMPTY"
PARSE_TOO_LONG = "PARSE_TOO_LONG"
PARSE_HELP = "PARSE_HELP"
PARSE_EMPTY_FIELD = "PARSE_EMPTY_FIELD"
PARSE_UNKNOWN_CONTEST = "PARSE_UNKNOWN_CONTEST"
PARSE_TPS_CODE = "PARSE_TPS_CODE"
PARSE_NUMBER = "PARSE_NUMBER"
PARSE_UNKNOWN_LINE = "PARSE_UNKNOWN_LINE"
PARSE_UNSUPPORTED_LINE = "PARSE_UNSUPPORTED_LINE"
PARSE_RUSAK = "PARSE_RUSAK"
PARSE_MULTIPLE_FORMS = "PARSE_MULTIPLE_FORMS"
PARSE_WRONG_KIND = "PARSE_WRONG_KIND"
PARSE_DUPLICATE = "PARSE_DUPLICATE"
PARSE_MIXED = "PARSE_MIXED"
PARSE_FIELD_ORDER = "PARSE_FIELD_ORDER"
PARSE_FIELD_COUNT = "PARSE_FIELD_COUNT"
PARSE_NEEDS_LABELS = "PARSE_NEEDS_LABELS"
PARSE_MISSING_SAH = "PARSE_MISSING_SAH"
PARSE_MISSING_TIDAK_SAH = "PARSE_MISSING_TIDAK_SAH"
PARSE_NO_VOTES = "PARSE_NO_VOTES"
PARSE_PARTY_INCOMPLETE = "PARSE_PARTY_INCOMPLETE"
PARSE_FORM_SHAPE = "PARSE_FORM_SHAPE"

ERROR_CODES = frozenset(
    {
        PARSE_EMPTY,
        PARSE_TOO_LONG,
        PARSE_HELP,
        PARSE_EMPTY_FIELD,
        PARSE_UNKNOWN_CONTEST,
        PARSE_TPS_CODE,
        PARSE_NUMBER,
        PARSE_UNKNOWN_LINE,
        PARSE_UNSUPPORTED_LINE,
        PARSE_RUSAK,
        PARSE_MULTIPLE_FORMS,
        PARSE_WRONG_KIND,
        PARSE_DUPLICATE,
        PARSE_MIXED,
        PARSE_FIELD_ORDER,
        PARSE_FIELD_COUNT,
        PARSE_NEEDS_LABELS,
        PARSE_MISSING_SAH,
        PARSE_MISSING_TIDAK_SAH,
        PARSE_NO_VOTES,
        PARSE_PARTY_INCOMPLETE,
        PARSE_FORM_SHAPE,
    }
)

HINT_GENERAL = (
    "Format: KONTES#KODE TPS 13 angka#suara 01#suara 02#...#SAH#TIDAK SAH. "
    "Contoh: PPWP#1607011016001#120#250#80#450#5. "
    "DPR/DPRD pakai nomor partai: DPR#1607011016001#P1=30#P2=12#SAH=42#TS=3. "
    "Ketik BANTUAN untuk panduan lengkap."
)
HINT_CANDIDATE = (
    "Format: {kontes}#KODE TPS 13 angka#suara 01#suara 02#...#SAH#TIDAK SAH. "
    "Contoh: {kontes}#1607011016001#120#250#80#450#5 "
    "(atau per baris: 01: 120 / Sah: 450 / Tidak sah: 5). Ketik BANTUAN untuk panduan lengkap."
)
HINT_PARTY = (
    "Format {kontes}: {kontes}#KODE TPS 13 angka#P1=jumlah partai 1#P2=...#SAH=...#TS=... "
    "Contoh: {kontes}#1607011016001#P1=30#P2=12#SAH=42#TS=3 (P1 = partai nomor 1). "
    "Ketik BANTUAN untuk panduan lengkap."
)

_CONTEST_ALIASES: dict[str, Contest] = {
    "PPWP": Contest.PPWP,
    "PILPRES": Contest.PPWP,
    "PRESIDEN": Contest.PPWP,
    "CAPRES": Contest.PPWP,
    "DPR": Contest.DPR,
    "DPRRI": Contest.DPR,
    "DPD": Contest.DPD,
    "DPDRI": Contest.DPD,
    "DPRDPROV": Contest.DPRD_PROV,
    "DPRDPROVINSI": Contest.DPRD_PROV,
    "DPRDPROPINSI": Contest.DPRD_PROV,
    "DPRDI": Contest.DPRD_PROV,
    "DPRD1": Contest.DPRD_PROV,
    "DPRDKABKO": Contest.DPRD_KABKO,
    "DPRDKAB": Contest.DPRD_KABKO,
    "DPRDKABUPATEN": Contest.DPRD_KABKO,
    "DPRDKOTA": Contest.DPRD_KABKO,
    "DPRDKABKOTA": Contest.DPRD_KABKO,
    "DPRDII": Contest.DPRD_KABKO,
    "DPRD2": Contest.DPRD_KABKO,
    "PILGUB": Contest.PILGUB,
    "GUBERNUR": Contest.PILGUB,
    "CAGUB": Contest.PILGUB,
    "PILBUP": Contest.PILBUP,
    "BUPATI": Contest.PILBUP,
    "CABUP": Contest.PILBUP,
    "PILWALKOT": Contest.PILWALKOT,
    "WALIKOTA": Contest.PILWALKOT,
    "PILWAKO": Contest.PILWALKOT,
    "CAWALKOT": Contest.PILWALKOT,
}
# Words that name more than one contest: refuse rather than pick one.
_AMBIGUOUS_CONTESTS = {
    "PILKADA": "PILGUB / PILBUP / PILWALKOT",
    "DPRD": "DPRD PROV / DPRD KAB",
    "PEMILU": "PPWP / DPR / DPD / DPRD PROV / DPRD KAB",
}

CONTEST_NAMES: dict[Contest, str] = {
    Contest.PPWP: "Presiden (PPWP)",
    Contest.DPR: "DPR RI",
    Contest.DPD: "DPD RI",
    Contest.DPRD_PROV: "DPRD Provinsi",
    Contest.DPRD_KABKO: "DPRD Kabupaten/Kota",
    Contest.PILGUB: "Gubernur (PILGUB)",
    Contest.PILBUP: "Bupati (PILBUP)",
    Contest.PILWALKOT: "Wali Kota (PILWALKOT)",
}

_HELP_WORDS = frozenset({"HELP", "BANTUAN", "FORMAT", "PANDUAN", "INFO", "CARA", "TOLONG"})
_SAH_KEYS = frozenset(
    {"SAH", "SUARASAH", "JUMLAHSAH", "JMLSAH", "JUMLAHSUARASAH", "JMLSUARASAH", "TOTALSAH"}
)
_TIDAK_SAH_KEYS = frozenset(
    {
        "TIDAKSAH",
        "TDKSAH",
        "TAKSAH",
        "TS",
        "TSAH",
        "SUARATIDAKSAH",
        "SUARATDKSAH",
        "JUMLAHTIDAKSAH",
        "JMLTIDAKSAH",
        "JMLTDKSAH",
        "JUMLAHSUARATIDAKSAH",
    }
)
_JUMLAH_KEYS = frozenset({"JUMLAH", "JML", "JUMLAHSUARA", "JMLSUARA", "JUMLAHSELURUHSUARA"})
# Sections I-III of the form need L/P/L+P rows; the text formats do not carry them.
_UNSUPPORTED_WORDS = frozenset(
    {
        "DPT",
        "DPTB",
        "DPK",
        "DPPH",
        "PEMILIH",
        "PENGGUNA",
        "HADIR",
        "SISA",
        "DITERIMA",
        "DIGUNAKAN",
        "TERPAKAI",
        "SURAT",
        "DISABILITAS",
        "DIFABEL",
    }
)

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_MARKUP = "*_~`"  # WhatsApp bold/italic/strike/monospace markers around a field
# Thousands dots only after a non-zero lead: '01.120' is a paslon label typo, not 1120.
_NUMBER = re.compile(r"[0-9]+|[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
# Digits with dots or commas only: a number (maybe mistyped), never a label and value.
_NUMBER_LIKE = re.compile(r"[0-9][0-9.,]*")
_GLUED_LABEL = re.compile(r"([A-Z][A-Z .]*?) ?([0-9][0-9.]*)")  # SAH450, TS5

_CODE_PREFIX = r"(?:(?:KODE|NO|NOMOR) ?)?(?:TPS|DESA|KELURAHAN|KEL|WILAYAH|KODE)? ?[:=.]? ?"
_TPS_NO = r"(?:NO\.? ?)?(?:TPS)? ?(?:NO\.? ?)?[-:=.]? ?([0-9]{1,3})"
_DESA_CODE = r"(?:([0-9]{2})\.([0-9]{2})\.([0-9]{2})\.([0-9]{4})|([0-9]{10}))"
_TPS_FULL = re.compile(
    _CODE_PREFIX + r"(?:([0-9]{2})\.([0-9]{2})\.([0-9]{2})\.([0-9]{4})\.([0-9]{1,3})|([0-9]{13}))"
)
# A separator is required between desa code and TPS number: '160701101601' is a typo, not TPS 01.
_DESA_WITH_TPS = re.compile(_CODE_PREFIX + _DESA_CODE + r"(?: ?[/,] ?| |(?=TPS|NO))" + _TPS_NO)
_DESA_ONLY = re.compile(_CODE_PREFIX + _DESA_CODE)
_TPS_NUMBER_ONLY = re.compile(_TPS_NO)
_TPS_LABELLED_NUMBER = re.compile(r"(?:NO\.? ?)?TPS ?(?:NO\.? ?)?[-:=.]? ?([0-9]{1,3})")

_CAND_WORDS = r"PASLON|PASANGAN|CALON|NOMOR URUT|NO URUT|NOURUT|NOMOR|NO"
_CAND_LABEL = re.compile(rf"(?:({_CAND_WORDS})\.? ?)?([0-9]{{1,3}})")
_PARTY_LABEL = re.compile(r"(?:P|PARTAI|PARPOL)\.? ?([0-9]{1,3})")
_CALEG_LABEL = re.compile(r"(?:(?:P|PARTAI|PARPOL)\.? ?)?([0-9]{1,3}) ?\. ?([0-9]{1,3})")


class _Fail(Exception):
    """Internal: a reason to refuse the message, turned into a ParseError at the top."""

    def __init__(self, code: str, pesan: str, message: str, hint: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.pesan = pesan
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class _Item:
    """One '#' field or line of the message: as typed, and upper-cased with single spaces."""

    raw: str
    norm: str


_EntryKind = Literal["bare", "sah", "tidak_sah", "jumlah", "paslon", "partai", "caleg"]


@dataclass(frozen=True)
class _Entry:
    """One vote field after reading: its kind, numbers in its label, its value."""

    kind: _EntryKind
    value: int
    raw: str
    nomor: int = 0  # paslon or party number
    calon: int = 0  # candidate number within a party; 0 = party votes only (A.1)


def parse_message(text: str, *, election: str) -> ParseResult:
    """Read one operator message as a C.Hasil form of `election`, or say why it cannot be read."""
    try:
        return ParseOk(_parse(text, election))
    except _Fail as fail:
        return ParseError(fail.code, fail.pesan, fail.message, fail.hint or HINT_GENERAL)


def is_help_request(text: str) -> bool:
    """True when the message asks for the format guide (HELP, BANTUAN, FORMAT, ...)."""
    stripped = text.strip()
    if len(stripped) > 40:
        return False
    key = re.sub(r"[^A-Z]", "", stripped.upper())
    return key in _HELP_WORDS or stripped in {"?", "??"}


def hint_for(contest: Contest) -> str:
    """The expected format of one contest, in Indonesian."""
    template = HINT_PARTY if contest.is_party_list else HINT_CANDIDATE
    return template.format(kontes=_contest_word(contest))


def _contest_word(contest: Contest) -> str:
    return {Contest.DPRD_PROV: "DPRD PROV", Contest.DPRD_KABKO: "DPRD KAB"}.get(
        contest, contest.value
    )


def _show(raw: str) -> str:
    """A field as typed, shortened so an error reply never echoes a whole essay."""
    return raw if len(raw) <= 40 else raw[:37] + "..."


def _parse(text: str, election: str) -> CHasil:
    if len(text) > MAX_MESSAGE_CHARS:
        raise _Fail(
            PARSE_TOO_LONG,
            f"Pesan terlalu panjang (lebih dari {MAX_MESSAGE_CHARS} huruf).",
            f"Message too long (over {MAX_MESSAGE_CHARS} characters).",
        )
    if is_help_request(text):
        raise _Fail(
            PARSE_HELP,
            "Panduan format pesan hasil TPS:",
            "Help requested: the reply is the format guide.",
            help_text(),
        )
    items = _split_items(text)
    if not items:
        raise _Fail(
            PARSE_EMPTY,
            "Pesan kosong.",
            "The message is empty.",
        )
    contest = _read_contest(items[0])
    hint = hint_for(contest)
    try:
        tps, next_index = _read_region(items, 1)
        entries = [_classify(item, contest) for item in items[next_index:]]
        return _build_form(election, contest, tps, entries)
    except _Fail as fail:
        fail.hint = fail.hint or hint
        raise


def _split_items(text: str) -> list[_Item]:
    items: list[_Item] = []
    for line in _INVISIBLE.sub("", text).splitlines():
        parts = [part.strip().strip(_MARKUP).strip() for part in line.split("#")]
        while parts and not parts[0]:
            parts.pop(0)
        while parts and not parts[-1]:
            parts.pop()
        # An empty field in the middle would shift every later number by one place.
        if any(not part for part in parts):
            raise _Fail(
                PARSE_EMPTY_FIELD,
                f"Ada kolom kosong (##) di '{_show(line.strip())}'. Isi 0 bila suaranya nol.",
                f"Empty field (##) in '{_show(line.strip())}'. Write 0 for zero votes.",
            )
        items.extend(_Item(part, " ".join(part.upper().split())) for part in parts)
    return items


def _contest_of(norm: str) -> Contest | str | None:
    """The contest a field names, the alternatives when it is ambiguous, or None."""
    key = re.sub(r"[^A-Z0-9]", "", norm)
    key = re.sub(r"20[0-9]{2}$", "", key)  # 'PILPRES 2024'
    if key in _AMBIGUOUS_CONTESTS:
        return _AMBIGUOUS_CONTESTS[key]
    return _CONTEST_ALIASES.get(key)


def _read_contest(item: _Item) -> Contest:
    found = _contest_of(item.norm)
    if isinstance(found, Contest):
        return found
    if isinstance(found, str):
        raise _Fail(
            PARSE_UNKNOWN_CONTEST,
            f"'{_show(item.raw)}' kurang jelas: tulis salah satu dari {found}.",
            f"'{_show(item.raw)}' is ambiguous: write one of {found}.",
        )
    raise _Fail(
        PARSE_UNKNOWN_CONTEST,
        f"Bagian pertama harus nama pemilihan (PPWP, DPR, DPD, DPRD PROV, DPRD KAB, PILGUB, "
        f"PILBUP, PILWALKOT), bukan '{_show(item.raw)}'.",
        f"The first field must name the contest (PPWP, DPR, DPD, DPRD PROV, DPRD KAB, PILGUB, "
        f"PILBUP, PILWALKOT), not '{_show(item.raw)}'.",
    )


def _desa(groups: tuple[str | None, ...]) -> str:
    """Dotted desa code from the groups of _DESA_CODE (four dotted parts, or ten digits)."""
    if all(groups[:4]):
        return ".".join(g for g in groups[:4] if g)
    undotted = groups[4] or ""
    return f"{undotted[:2]}.{undotted[2:4]}.{undotted[4:6]}.{undotted[6:10]}"


def _tps_code(desa: str, tps_number: str, raw: str) -> str:
    number = int(tps_number)
    if number == 0:
        raise _Fail(
            PARSE_TPS_CODE,
            f"Nomor TPS 0 tidak ada ('{_show(raw)}').",
            f"There is no TPS number 0 ('{_show(raw)}').",
        )
    return f"{desa}.{number:03d}"


def _tps_code_error(raw: str, detail_id: str, detail_en: str) -> _Fail:
    return _Fail(
        PARSE_TPS_CODE,
        f"Kode TPS tidak terbaca: '{_show(raw)}'. {detail_id}",
        f"Cannot read the TPS code: '{_show(raw)}'. {detail_en}",
    )


def _read_region(items: list[_Item], index: int) -> tuple[str, int]:
    """The TPS code from one field (full code, or desa code with TPS number) or two fields."""
    expected_id = "Tulis kode TPS 13 angka (1607011016001) atau kode desa lalu nomor TPS."
    expected_en = (
        "Write the 13-digit TPS code (1607011016001) or the desa code then the TPS number."
    )
    if index >= len(items):
        raise _Fail(
            PARSE_TPS_CODE,
            f"Kode TPS tidak ada. {expected_id}",
            f"The TPS code is missing. {expected_en}",
        )
    item = items[index]
    full = _TPS_FULL.fullmatch(item.norm)
    if full:
        groups = full.groups()
        if groups[5]:
            return _tps_code(
                _desa((None, None, None, None, groups[5][:10])), groups[5][10:], item.raw
            ), index + 1
        return _tps_code(_desa((*groups[:4], None)), groups[4] or "", item.raw), index + 1
    with_tps = _DESA_WITH_TPS.fullmatch(item.norm)
    if with_tps:
        groups = with_tps.groups()
        return _tps_code(_desa(groups[:5]), groups[5] or "", item.raw), index + 1
    desa = _DESA_ONLY.fullmatch(item.norm)
    following = items[index + 1] if index + 1 < len(items) else None
    if desa:
        number = _TPS_NUMBER_ONLY.fullmatch(following.norm) if following else None
        if number is None or following is None:
            raise _tps_code_error(
                item.raw,
                "Nomor TPS tidak ada sesudah kode desa (contoh: 1607011016#001).",
                "The TPS number is missing after the desa code (e.g. 1607011016#001).",
            )
        return _tps_code(_desa(desa.groups()), number.group(1), following.raw), index + 2
    labelled = _TPS_LABELLED_NUMBER.fullmatch(item.norm)
    if labelled:
        desa_after = _DESA_ONLY.fullmatch(following.norm) if following else None
        if desa_after is None:
            raise _tps_code_error(
                item.raw,
                "Sesudah nomor TPS harus ada kode desa 10 angka, atau tulis kode TPS 13 angka.",
                "A 10-digit desa code must follow the TPS number, or write the 13-digit TPS code.",
            )
        return _tps_code(_desa(desa_after.groups()), labelled.group(1), item.raw), index + 2
    raise _tps_code_error(item.raw, expected_id + " Jangan pakai nama desa.", expected_en)


def _number(raw_value: str, context: str) -> int:
    value = raw_value.strip()
    if not _NUMBER.fullmatch(value):
        raise _Fail(
            PARSE_NUMBER,
            f"Angka tidak terbaca: '{_show(value)}' (di '{_show(context)}'). "
            "Tulis satu angka bulat tanpa huruf atau koma per bagian.",
            f"Cannot read the number '{_show(value)}' (in '{_show(context)}'). "
            "Write one whole number, without letters or commas, per field.",
        )
    digits = value.replace(".", "")
    if len(digits) > _MAX_DIGITS or int(digits) > STRUCTURAL_MAX:
        raise _Fail(
            PARSE_NUMBER,
            f"Angka terlalu besar: '{_show(value)}'.",
            f"Number too large: '{_show(value)}'.",
        )
    return int(digits)


def _split_label(norm: str) -> tuple[str, str] | None:
    """Label and value of 'Sah: 450', 'TS=5', 'Tidak sah, 5', 'Sah 450' or 'SAH450'."""
    for separator in (":", "=", ","):
        if separator in norm:
            label, _, value = norm.partition(separator)
            return label.strip(), value.strip()
    head, space, tail = norm.rpartition(" ")
    if space:
        return head, tail
    glued = _GLUED_LABEL.fullmatch(norm)
    if glued:
        return glued.group(1).strip(), glued.group(2)
    return None


def _unknown_line(item: _Item) -> _Fail:
    return _Fail(
        PARSE_UNKNOWN_LINE,
        f"Bagian tidak dikenal: '{_show(item.raw)}'. Kirim hanya format hasil, "
        "tanpa salam atau tanda tangan.",
        f"Unknown field: '{_show(item.raw)}'. Send only the result format, "
        "without greetings or a signature.",
    )


def _wrong_kind(item: _Item, contest: Contest) -> _Fail:
    if contest.is_party_list:
        return _Fail(
            PARSE_WRONG_KIND,
            f"'{_show(item.raw)}': {_contest_word(contest)} dihitung per partai. Tulis P1: 30 "
            "(jumlah partai 1), atau P1.3: 12 untuk caleg nomor 3 partai 1.",
            f"'{_show(item.raw)}': {contest.value} is counted per party. Write P1: 30 "
            "(party 1 total), or P1.3: 12 for candidate 3 of party 1.",
        )
    return _Fail(
        PARSE_WRONG_KIND,
        f"'{_show(item.raw)}': {_contest_word(contest)} dihitung per nomor urut calon, bukan "
        "per partai. Tulis 01: 120.",
        f"'{_show(item.raw)}': {contest.value} is counted per candidate number, not per party. "
        "Write 01: 120.",
    )


def _classify(item: _Item, contest: Contest) -> _Entry:
    norm = item.norm
    if _NUMBER_LIKE.fullmatch(norm):
        return _Entry("bare", _number(norm, item.raw), item.raw)
    if "RUSAK" in norm:
        raise _Fail(
            PARSE_RUSAK,
            f"'{_show(item.raw)}': surat suara rusak bukan suara tidak sah, dan tidak dikirim "
            "lewat pesan. Untuk suara tidak sah tulis 'Tidak sah: 5'.",
            f"'{_show(item.raw)}': damaged ballots are not invalid votes and are not sent by "
            "message. For invalid votes write 'Tidak sah: 5'.",
        )
    if _contest_of(norm) is not None:
        raise _Fail(
            PARSE_MULTIPLE_FORMS,
            f"'{_show(item.raw)}' adalah nama pemilihan lain: kirim satu pesan per pemilihan.",
            f"'{_show(item.raw)}' names another contest: send one message per contest.",
        )
    split = _split_label(norm)
    if split is None:
        raise _unknown_line(item)
    label, value = split
    entry = _label_entry(label, item, contest)
    return _Entry(entry[0], _number(value, item.raw), item.raw, entry[1], entry[2])


def _label_entry(label: str, item: _Item, contest: Contest) -> tuple[_EntryKind, int, int]:
    caleg = _CALEG_LABEL.fullmatch(label)
    if caleg:
        if not contest.is_party_list:
            raise _wrong_kind(item, contest)
        return "caleg", _label_number(caleg.group(1), item), int(caleg.group(2))
    party = _PARTY_LABEL.fullmatch(label)
    if party:
        if not contest.is_party_list:
            raise _wrong_kind(item, contest)
        return "partai", _label_number(party.group(1), item), 0
    candidate = _CAND_LABEL.fullmatch(label)
    if candidate:
        word = candidate.group(1)
        # A bare number or 'No' means party in DPR/DPRD; 'Paslon'/'Calon' never does.
        if contest.is_party_list:
            if word is not None and not word.startswith("NO"):
                raise _wrong_kind(item, contest)
            return "partai", _label_number(candidate.group(2), item), 0
        return "paslon", _label_number(candidate.group(2), item), 0
    key = re.sub(r"[^A-Z]", "", label)
    if re.search(r"[0-9]", label) is None:
        if key in _SAH_KEYS:
            return "sah", 0, 0
        if key in _TIDAK_SAH_KEYS:
            return "tidak_sah", 0, 0
        if key in _JUMLAH_KEYS:
            return "jumlah", 0, 0
    if any(word in _UNSUPPORTED_WORDS for word in re.findall(r"[A-Z]+", label)):
        raise _Fail(
            PARSE_UNSUPPORTED_LINE,
            f"'{_show(item.raw)}': data pemilih dan surat suara (DPT, pengguna hak pilih, sisa) "
            "tidak dikirim lewat pesan; hapus baris ini. Yang dikirim: suara tiap calon/partai, "
            "Sah, Tidak sah, dan boleh Jumlah.",
            f"'{_show(item.raw)}': voter and ballot-paper data (DPT, voters, unused ballots) are "
            "not sent by message; remove this line. Send votes per candidate/party, Sah, "
            "Tidak sah, and optionally Jumlah.",
        )
    raise _unknown_line(item)


def _label_number(digits: str, item: _Item) -> int:
    number = int(digits)
    if number == 0:
        raise _Fail(
            PARSE_NUMBER,
            f"Nomor 0 tidak ada: '{_show(item.raw)}' (nomor urut mulai dari 1).",
            f"There is no number 0: '{_show(item.raw)}' (numbers start at 1).",
        )
    return number


def _single(entries: list[_Entry], kind: _EntryKind, name_id: str, name_en: str) -> int | None:
    found = [e for e in entries if e.kind == kind]
    if len(found) > 1:
        raise _Fail(
            PARSE_DUPLICATE,
            f"{name_id} ditulis dua kali ('{_show(found[0].raw)}', '{_show(found[1].raw)}').",
            f"{name_en} is given twice ('{_show(found[0].raw)}', '{_show(found[1].raw)}').",
        )
    return found[0].value if found else None


def _missing(code: str, name_id: str, example: str, name_en: str) -> _Fail:
    return _Fail(
        code,
        f"{name_id} tidak ada: tulis '{example}' seperti di formulir C.Hasil.",
        f"Missing {name_en.lower()}: write '{example}' as on the C.Hasil form.",
    )


def _build_form(election: str, contest: Contest, tps: str, entries: list[_Entry]) -> CHasil:
    if not entries:
        raise _Fail(
            PARSE_NO_VOTES,
            "Angka suara tidak ada sesudah kode TPS.",
            "No vote numbers follow the TPS code.",
        )
    sah = _single(entries, "sah", "Sah", "Sah (valid votes)")
    tidak_sah = _single(entries, "tidak_sah", "Tidak sah", "Tidak sah (invalid votes)")
    jumlah = _single(entries, "jumlah", "Jumlah", "Jumlah (total votes)")
    bare = [e for e in entries if e.kind == "bare"]
    labelled_votes = [e for e in entries if e.kind in ("paslon", "partai", "caleg")]
    suara_calon: dict[int, int] | None = None
    suara_partai: list[SuaraPartai] | None = None
    if labelled_votes:
        if bare:
            raise _Fail(
                PARSE_MIXED,
                f"Angka tanpa label '{_show(bare[0].raw)}' bercampur dengan baris berlabel. "
                "Pakai label di semua baris (01: 120, Sah: 450) atau tanpa label dengan urutan "
                "tetap.",
                f"Unlabelled number '{_show(bare[0].raw)}' mixed with labelled lines. Label every "
                "line (01: 120, Sah: 450) or none, in the fixed order.",
            )
        if sah is None:
            raise _missing(PARSE_MISSING_SAH, "Suara sah", "Sah: 450", "Valid votes")
        if tidak_sah is None:
            raise _missing(
                PARSE_MISSING_TIDAK_SAH, "Suara tidak sah", "Tidak sah: 5", "Invalid votes"
            )
        if contest.is_party_list:
            suara_partai = _parties(labelled_votes)
        else:
            suara_calon = _candidates(labelled_votes)
    else:
        if contest.is_party_list:
            raise _Fail(
                PARSE_NEEDS_LABELS,
                f"{_contest_word(contest)}: tulis nomor partai di depan suaranya (P1=30), "
                "karena nomor partai tidak berurutan.",
                f"{contest.value}: put the party number before its votes (P1=30); party "
                "numbers are not consecutive.",
            )
        suara_calon, sah, tidak_sah = _positional(entries, bare, sah, tidak_sah)
    try:
        return CHasil(
            election=election,
            contest=contest,
            tps=tps,
            suara_calon=suara_calon,
            suara_partai=suara_partai,
            suara_sah=sah,
            suara_tidak_sah=tidak_sah,
            jumlah_suara=jumlah,
        )
    except ValidationError as error:
        reasons = "; ".join(str(e["msg"]) for e in error.errors()[:3])
        raise _Fail(
            PARSE_FORM_SHAPE,
            f"Isi pesan tidak membentuk formulir C.Hasil: {reasons}",
            f"The message does not make a C.Hasil form: {reasons}",
        ) from None


def _positional(
    entries: list[_Entry], bare: list[_Entry], sah: int | None, tidak_sah: int | None
) -> tuple[dict[int, int], int, int]:
    """Fixed order: votes of paslon 1..n, then Sah, then Tidak sah (each may carry its label)."""
    first_label = next((i for i, e in enumerate(entries) if e.kind != "bare"), len(entries))
    if any(e.kind == "bare" for e in entries[first_label:]):
        raise _Fail(
            PARSE_FIELD_ORDER,
            "Urutan tetap: suara 01, 02, ... lalu Sah lalu Tidak sah. Ada angka tanpa label "
            "sesudah baris berlabel.",
            "Fixed order: votes 01, 02, ... then Sah then Tidak sah. An unlabelled number "
            "follows a labelled field.",
        )
    if sah is not None and tidak_sah is None:
        raise _missing(PARSE_MISSING_TIDAK_SAH, "Suara tidak sah", "TS 5", "Invalid votes")
    values = [e.value for e in bare]
    taken_from_end = (sah is None) + (tidak_sah is None)
    if len(values) < taken_from_end + 1:
        raise _Fail(
            PARSE_FIELD_COUNT,
            f"Terlalu sedikit angka ({len(values)}): perlu suara tiap paslon, lalu Sah, lalu "
            "Tidak sah.",
            f"Too few numbers ({len(values)}): votes of each paslon, then Sah, then Tidak sah "
            "are needed.",
        )
    if len(values) - taken_from_end > 999:
        raise _Fail(
            PARSE_FIELD_COUNT,
            f"Terlalu banyak angka ({len(values)}): nomor urut paling besar 999.",
            f"Too many numbers ({len(values)}): candidate numbers go up to 999.",
        )
    if tidak_sah is None:
        tidak_sah = values.pop()
    if sah is None:
        sah = values.pop()
    return {no: votes for no, votes in enumerate(values, start=1)}, sah, tidak_sah


def _duplicate_label(entry: _Entry) -> _Fail:
    return _Fail(
        PARSE_DUPLICATE,
        f"Nomor yang sama ditulis dua kali: '{_show(entry.raw)}'.",
        f"The same number is given twice: '{_show(entry.raw)}'.",
    )


def _candidates(entries: list[_Entry]) -> dict[int, int]:
    votes: dict[int, int] = {}
    for entry in entries:
        if entry.nomor in votes:
            raise _duplicate_label(entry)
        votes[entry.nomor] = entry.value
    return dict(sorted(votes.items()))


def _parties(entries: list[_Entry]) -> list[SuaraPartai]:
    totals: dict[int, int] = {}
    party_only: dict[int, int] = {}
    per_candidate: dict[int, dict[int, int]] = {}
    for entry in entries:
        if entry.kind == "partai":
            target = totals
        elif entry.calon == 0:
            target = party_only
        else:
            target = per_candidate.setdefault(entry.nomor, {})
        key = entry.calon if entry.kind == "caleg" and entry.calon else entry.nomor
        if key in target:
            raise _duplicate_label(entry)
        target[key] = entry.value
    parties: list[SuaraPartai] = []
    for nomor in sorted(totals.keys() | party_only.keys() | per_candidate.keys()):
        if nomor not in totals:
            raise _Fail(
                PARSE_PARTY_INCOMPLETE,
                f"Jumlah partai {nomor} (baris B) tidak ada: tulis 'P{nomor}: <jumlah>'.",
                f"The total of party {nomor} (line B) is missing: write 'P{nomor}: <total>'.",
            )
        calon = per_candidate.get(nomor, {})
        if calon and nomor not in party_only:
            # Computing A.1 from B would hide exactly the slip the validator must catch.
            raise _Fail(
                PARSE_PARTY_INCOMPLETE,
                f"Ada suara caleg partai {nomor}: tulis juga suara partai saja (A.1) sebagai "
                f"'P{nomor}.0: <suara>'.",
                f"Candidate votes of party {nomor} are given: also write the party-only votes "
                f"(A.1) as 'P{nomor}.0: <votes>'.",
            )
        parties.append(
            SuaraPartai(
                nomor_partai=nomor,
                suara_partai=party_only.get(nomor, totals[nomor]),
                suara_calon=dict(sorted(calon.items())),
                jumlah=totals[nomor],
            )
        )
    return parties


def _party_lines(form: CHasil, separator: str) -> list[str]:
    lines: list[str] = []
    for party in sorted(form.suara_partai or [], key=lambda p: p.nomor_partai):
        no = party.nomor_partai
        lines.append(f"P{no}{separator}{party.jumlah}")
        if party.suara_calon or party.suara_partai != party.jumlah:
            lines.append(f"P{no}.0{separator}{party.suara_partai}")
        lines.extend(f"P{no}.{c}{separator}{v}" for c, v in sorted(party.suara_calon.items()))
    return lines


def format_compact(form: CHasil) -> str:
    """The canonical '#' text of a form's votes (sections IV and V; sections I-III are not sent)."""
    fields = [form.contest.value, form.tps]
    if form.suara_partai is not None:
        fields += _party_lines(form, "=")
        fields += [f"SAH={form.suara_sah}", f"TS={form.suara_tidak_sah}"]
    else:
        votes = form.suara_calon or {}
        numbers = sorted(votes)
        if numbers == list(range(1, len(numbers) + 1)):
            fields += [str(votes[no]) for no in numbers]
            fields += [str(form.suara_sah), str(form.suara_tidak_sah)]
        else:
            fields += [f"{no:02d}={votes[no]}" for no in numbers]
            fields += [f"SAH={form.suara_sah}", f"TS={form.suara_tidak_sah}"]
    if form.jumlah_suara is not None:
        fields.append(f"JML={form.jumlah_suara}")
    return "#".join(fields)


def format_multiline(form: CHasil) -> str:
    """The canonical line-per-number text of a form's votes (sections IV and V)."""
    lines = [_contest_word(form.contest), f"TPS {form.tps}"]
    if form.suara_partai is not None:
        lines += _party_lines(form, ": ")
    else:
        lines += [f"{no:02d}: {v}" for no, v in sorted((form.suara_calon or {}).items())]
    lines += [f"Sah: {form.suara_sah}", f"Tidak sah: {form.suara_tidak_sah}"]
    if form.jumlah_suara is not None:
        lines.append(f"Jumlah: {form.jumlah_suara}")
    return "\n".join(lines)


QUICKCOUNT_READBACK = "TPS ini sampel hitung cepat: kirim juga foto C.Hasil sekarang."


def format_readback(form: CHasil, *, in_sample: bool = False) -> str:
    """The Indonesian read-back sent to the operator: what was read, and how to correct it."""
    lines = [f"Terbaca: {CONTEST_NAMES[form.contest]}", f"TPS {form.tps}"]
    if in_sample:
        lines.append(QUICKCOUNT_READBACK)
    if form.suara_partai is not None:
        for party in sorted(form.suara_partai, key=lambda p: p.nomor_partai):
            line = f"Partai {party.nomor_partai:02d}: {party.jumlah}"
            if party.suara_calon or party.suara_partai != party.jumlah:
                detail = ", ".join(
                    [f"suara partai {party.suara_partai}"]
                    + [f"caleg {c}: {v}" for c, v in sorted(party.suara_calon.items())]
                )
                line += f" ({detail})"
            lines.append(line)
    else:
        calon = "Calon" if form.contest == Contest.DPD else "Paslon"
        lines += [f"{calon} {no:02d}: {v}" for no, v in sorted((form.suara_calon or {}).items())]
    lines += [f"Suara sah: {form.suara_sah}", f"Suara tidak sah: {form.suara_tidak_sah}"]
    if form.jumlah_suara is not None:
        lines.append(f"Jumlah suara: {form.jumlah_suara}")
    if form.pemilih is not None:
        lines.append(f"Pengguna hak pilih: {form.pemilih.pengguna_total.jumlah}")
    lines.append(
        "Periksa angka di atas. Bila ada yang salah, kirim ulang pesan lengkap untuk TPS dan "
        "pemilihan ini: pesan terakhir menggantikan yang sebelumnya."
    )
    return "\n".join(lines)


def help_text() -> str:
    """The reply to HELP / BANTUAN / FORMAT: both formats with short examples, in Indonesian."""
    return "\n".join(
        [
            "FORMAT HASIL TPS (1 pesan = 1 pemilihan di 1 TPS)",
            "Singkat: KONTES#KODE TPS#suara 01#suara 02#...#SAH#TIDAK SAH",
            "Contoh: PPWP#1607011016001#120#250#80#450#5",
            "Kode desa + no TPS juga boleh: PPWP#1607011016#1#120#250#80#450#5",
            "DPR/DPRD pakai nomor partai: DPR#1607011016001#P1=30#P2=12#SAH=42#TS=3",
            "Per baris:",
            "PILBUP",
            "TPS 1607011016001",
            "01: 300",
            "02: 150",
            "Sah: 450",
            "Tidak sah: 5",
            "KONTES: PPWP, DPR, DPD, DPRD PROV, DPRD KAB, PILGUB, PILBUP, PILWALKOT.",
            "Sah dan Tidak sah ditulis seperti di formulir (jangan dihitung sendiri).",
            "Salah? Kirim ulang pesan lengkap; pesan terakhir untuk TPS itu yang dipakai.",
        ]
    )


def parse_photo_caption(text: str) -> tuple[Contest, str] | None:
    """The contest and TPS code a photo's caption names ('PPWP 1607011016#001'), or None.

    The same reading as the first fields of a text form: the contest word, then the TPS code in
    any of the forms a text form accepts; whatever follows is ignored.
    """
    if len(text) > MAX_MESSAGE_CHARS:
        return None
    # A caption is often 'PPWP 1607011016#001': the contest word may end at a space.
    for candidate in (text, re.sub(r"\s+", "#", text.strip(), count=1)):
        try:
            items = _split_items(candidate)
            if len(items) < 2:
                continue
            contest = _read_contest(items[0])
            tps, _ = _read_region(items, 1)
        except _Fail:
            continue
        return contest, tps
    return None
