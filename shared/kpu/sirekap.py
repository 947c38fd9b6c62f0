"""Sirekap's per-TPS JSON (Pemilu `chart`/`administrasi`, Pilkada's `tungsura` wrapper) as models.

Pure: bytes in, a `KpuTps` (or a `SirekapError` saying why not) out. Tolerant of what the real data
does: a `"null": null` key in `chart`, `chart` / `administrasi` / `tungsura` null or partial while
a TPS is not yet entered, `status_suara` false, `psu` set, numbers sent as strings, unknown keys.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import BilingualError
from shared.form import Contest, normalise_tps_code

WIB = timezone(timedelta(hours=7), "WIB")  # Sirekap's `ts` is local time in Jakarta

# Sirekap's path segment for each contest (pemilu/hhcw/<slug>/..., pilkada/hhcw/<slug>/...).
SIREKAP_SLUGS: dict[Contest, str] = {
    Contest.PPWP: "ppwp",
    Contest.DPR: "pdpr",
    Contest.DPD: "pdpd",
    Contest.DPRD_PROV: "pdprdp",
    Contest.DPRD_KABKO: "pdprdk",
    Contest.PILGUB: "pkwkp",
    Contest.PILBUP: "pkwkk",
    Contest.PILWALKOT: "pkwkk",
}
_TPS_STEM = re.compile(r"^\d{13}$")
_LINE = re.compile(r"^[cp][0-9]{1,3}$")


class SirekapError(BilingualError):
    """An unreadable document or candidate list: machine code, Indonesian and English text."""


class KpuState(StrEnum):
    """How far KPU is with a TPS."""

    PUBLISHED = "published"  # status_suara true and a chart: votes to compare
    PENDING = "pending"  # a document, votes not entered or not verified (status_suara false)


def _nonnegative(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise ValueError("angka negatif / negative number")
    return value


def _clean_chart(
    cls: type[BaseModel], value: dict[str, int | None] | None
) -> dict[str, int | None] | None:
    if value is None:
        return None
    for key, votes in value.items():
        if votes is not None and votes < 0:
            raise ValueError(f"suara negatif untuk {key} / negative votes for {key}")
    # Sirekap writes {"null": null, ...}; that key names no candidate.
    return {k: v for k, v in value.items() if k != "null"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Administrasi(_Lenient):
    """KPU's `administrasi` block; every field may be missing or null while not entered."""

    suara_sah: int | None = None
    suara_tidak_sah: int | None = None
    suara_total: int | None = None
    pemilih_dpt_j: int | None = None
    pemilih_dpt_l: int | None = None
    pemilih_dpt_p: int | None = None
    pengguna_dpt_j: int | None = None
    pengguna_dptb_j: int | None = None
    pengguna_non_dpt_j: int | None = None
    pengguna_total_j: int | None = None

    @field_validator("*")
    @classmethod
    def _not_negative(cls, value: int | None) -> int | None:
        return _nonnegative(value)


class Tungsura(_Lenient):
    """The counts: top level in Pemilu documents, under `tungsura` in Pilkada ones."""

    chart: dict[str, int | None] | None = None
    administrasi: Administrasi | None = None

    _chart = field_validator("chart")(_clean_chart)


class SirekapDocument(_Lenient):
    """One per-TPS document as Sirekap publishes it (either shape)."""

    mode: str | None = None
    chart: dict[str, int | None] | None = None
    administrasi: Administrasi | None = None
    tungsura: Tungsura | None = None
    images: list[str | None] | None = None
    psu: Any = None
    ts: str | None = None
    status_suara: bool | None = None
    status_adm: bool | None = None

    _chart = field_validator("chart")(_clean_chart)

    def counts(self) -> Tungsura:
        """The counts whatever the shape: Pilkada's `tungsura` wins when present."""
        if self.tungsura is not None:
            return self.tungsura
        return Tungsura(chart=self.chart, administrasi=self.administrasi)


class KpuTps(BaseModel):
    """What KPU showed for one contest at one TPS, in the desk's terms (lines `c1`, `p3`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tps: str  # dotted: 16.07.01.1016.001
    state: KpuState
    votes: dict[str, int] = Field(default_factory=dict)  # line -> votes; absent: not given
    suara_sah: int | None = None
    suara_tidak_sah: int | None = None
    suara_total: int | None = None
    pengguna: int | None = None  # pengguna_total_j
    dpt: int | None = None  # pemilih_dpt_j, KPU's own DPT for the TPS
    status_suara: bool | None = None
    status_adm: bool | None = None
    psu: str | None = None  # as KPU wrote it (JSON text when not a string); None: no PSU
    kpu_ts: datetime | None = None
    images: tuple[str, ...] = ()

    def content_hash(self) -> str:
        """sha256 over the whole content: equal hashes, nothing KPU showed has changed."""
        payload = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(payload).hexdigest()


class CandidateMap(BaseModel):
    """KPU's candidate ids of one contest mapped to the roster's vote lines ('c1', 'p3')."""

    model_config = ConfigDict(frozen=True)

    lines: dict[str, str]

    @field_validator("lines")
    @classmethod
    def _lines_look_right(cls, value: dict[str, str]) -> dict[str, str]:
        for kpu_id, line in value.items():
            if not _LINE.match(line):
                raise ValueError(f"baris {line!r} untuk id {kpu_id} / bad line {line!r}")
        if len(set(value.values())) != len(value):
            raise ValueError("dua id KPU ke satu baris / two KPU ids map to one line")
        return value


def _unreadable(exc: Exception) -> SirekapError:
    return SirekapError(
        "KPU_CANDIDATES_UNREADABLE",
        f"daftar calon KPU tidak terbaca: {exc}",
        f"KPU candidate list unreadable: {exc}",
    )


def _csv_lines(data: bytes) -> dict[str, str]:
    text = data.decode("utf-8-sig")
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    return {str(row["kpu_id"]).strip(): str(row["line"]).strip() for row in rows}


def _json_lines(parsed: Any, prefix: str) -> dict[str, str]:
    entries: list[tuple[str, Any]] = []
    if isinstance(parsed, dict):
        entries = list(parsed.items())
    elif isinstance(parsed, list):
        entries = [(str(item.get("id")), item) for item in parsed if isinstance(item, dict)]
    lines: dict[str, str] = {}
    for kpu_id, value in entries:
        if kpu_id in ("null", "None", "ts"):
            continue
        if isinstance(value, str):
            lines[kpu_id] = value
        elif isinstance(value, dict) and value.get("nomor_urut") is not None:
            lines[kpu_id] = f"{prefix}{int(value['nomor_urut'])}"
    return lines


def parse_candidate_map(data: bytes, contest: Contest, *, csv_text: bool = False) -> CandidateMap:
    """A mapping from KPU's candidate list JSON (`pemilu/ppwp.json`) or a mapping file.

    Accepted: KPU's list `{"100025": {"nama": ..., "nomor_urut": 1}, ...}` (or a list of such
    objects with `id`), a JSON mapping `{"100025": "c1"}`, or CSV with columns `kpu_id,line`.
    Party-list contests map `nomor_urut` to `p<n>`, the others to `c<n>`.
    """
    prefix = "p" if contest.is_party_list else "c"
    try:
        lines = _csv_lines(data) if csv_text else _json_lines(orjson.loads(data), prefix)
    except (orjson.JSONDecodeError, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise _unreadable(exc) from exc
    if not lines:
        raise SirekapError(
            "KPU_CANDIDATES_EMPTY",
            "daftar calon KPU tidak memuat id dengan nomor_urut",
            "KPU candidate list holds no id with a nomor_urut",
        )
    try:
        return CandidateMap(lines=lines)
    except ValidationError as exc:
        raise SirekapError(
            "KPU_CANDIDATES_INVALID", f"pemetaan calon salah: {exc}", f"bad mapping: {exc}"
        ) from exc


def tps_code_from_name(name: str) -> str | None:
    """The dotted TPS code of a Sirekap file name `1607011016001.json`; None for other files."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".json")
    return normalise_tps_code(stem) if _TPS_STEM.match(stem) else None


def tps_document_path(tps_code: str) -> str:
    """Path below a contest's base (`pemilu/hhcw/ppwp`) of a TPS document: prov/kab/kec/desa/tps."""
    digits = tps_code.replace(".", "")
    return f"{digits[:2]}/{digits[:4]}/{digits[:6]}/{digits[:10]}/{digits}.json"


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError as exc:
        raise SirekapError(
            "KPU_BAD_TS", f"ts tidak terbaca: {value!r}", f"unreadable ts: {value!r}"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=WIB)


def _psu_text(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def parse_tps_document(data: bytes, tps_code: str, mapping: CandidateMap) -> KpuTps:
    """Read one Sirekap TPS document; raises SirekapError with the reason when it cannot."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SirekapError("KPU_NOT_JSON", f"bukan JSON: {exc}", f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise SirekapError(
            "KPU_NOT_OBJECT",
            "dokumen TPS harus objek JSON",
            "a TPS document must be a JSON object",
        )
    try:
        document = SirekapDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SirekapError(
            "KPU_BAD_FIELD",
            f"isian {where} tidak sah: {first['msg']}",
            f"field {where} invalid: {first['msg']}",
        ) from exc
    counts = document.counts()
    votes: dict[str, int] = {}
    for kpu_id, value in (counts.chart or {}).items():
        line = mapping.lines.get(kpu_id)
        if line is None:
            raise SirekapError(
                "KPU_UNKNOWN_CANDIDATE",
                f"id calon KPU {kpu_id} tidak ada di pemetaan",
                f"KPU candidate id {kpu_id} is not in the mapping",
            )
        if value is not None:
            votes[line] = value
    adm = counts.administrasi or Administrasi()
    entered = bool(document.status_suara) and counts.chart is not None and bool(votes)
    return KpuTps(
        tps=tps_code,
        state=KpuState.PUBLISHED if entered else KpuState.PENDING,
        votes=dict(sorted(votes.items(), key=lambda kv: (kv[0][0], int(kv[0][1:])))),
        suara_sah=adm.suara_sah,
        suara_tidak_sah=adm.suara_tidak_sah,
        suara_total=adm.suara_total,
        pengguna=adm.pengguna_total_j,
        dpt=adm.pemilih_dpt_j,
        status_suara=document.status_suara,
        status_adm=document.status_adm,
        psu=_psu_text(document.psu),
        kpu_ts=_parse_ts(document.ts),
        images=tuple(i for i in document.images or () if i),
    )


def check_mapping_against(mapping: CandidateMap, lines: Mapping[str, object]) -> list[str]:
    """Mapped lines the roster's contest does not have (empty when the mapping fits)."""
    return sorted(line for line in mapping.lines.values() if line not in lines)
