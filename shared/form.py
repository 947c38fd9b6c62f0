"""The TPS result form (Formulir Model C.Hasil) as pydantic models: one form per TPS per contest."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic.config import JsonDict

# The shape check refuses only what no paper form can hold; the 0-999 box range is a
# validation rule (with its own code) so that an OCR-like slip is reported, not rejected as 422.
STRUCTURAL_MAX = 1_000_000
Count = Annotated[int, Field(ge=0, le=STRUCTURAL_MAX)]
CandidateNo = Annotated[int, Field(ge=1, le=999)]
# Votes by candidate number; JSON object keys are text, so the schema says which texts are numbers.
CandidateVotes = Annotated[
    dict[CandidateNo, Count],
    Field(json_schema_extra={"propertyNames": {"pattern": "^0*[1-9][0-9]{0,2}$"}}),
]


class Contest(StrEnum):
    """Ballot kinds: five in a general election (Pemilu), two or three in a Pilkada."""

    PPWP = "PPWP"  # presiden dan wakil presiden
    DPR = "DPR"
    DPD = "DPD"
    DPRD_PROV = "DPRD_PROV"
    DPRD_KABKO = "DPRD_KABKO"
    PILGUB = "PILGUB"  # gubernur
    PILBUP = "PILBUP"  # bupati
    PILWALKOT = "PILWALKOT"  # wali kota

    @property
    def is_party_list(self) -> bool:
        """True when votes are counted per party with candidate lines (DPR and DPRD)."""
        return self in PARTY_LIST_CONTESTS


PARTY_LIST_CONTESTS = frozenset({Contest.DPR, Contest.DPRD_PROV, Contest.DPRD_KABKO})

_TPS_DOTTED = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{2})\.([0-9]{4})\.([0-9]{3})")
_TPS_UNDOTTED = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{4})([0-9]{3})")
_ELECTION_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
# The same rules as JSON Schema patterns, so that the OpenAPI documents what is enforced.
TPS_CODE_PATTERN = r"^\s*([0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}\.[0-9]{3}|[0-9]{13})\s*$"
ELECTION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"


def normalise_tps_code(value: str) -> str:
    """Return a TPS code in dotted Kemendagri form; accepts KPU's 13-digit undotted form."""
    text = value.strip()
    match = _TPS_DOTTED.fullmatch(text) or _TPS_UNDOTTED.fullmatch(text)
    if match is None:
        raise ValueError(
            "kode TPS harus 16.07.01.1016.001 atau 1607011016001 / "
            "TPS code must look like 16.07.01.1016.001 or 1607011016001"
        )
    return ".".join(match.groups())


def _check_election_id(value: str) -> str:
    if not _ELECTION_ID.fullmatch(value):
        raise ValueError(
            "id pemilihan tidak sah (contoh: pemilu-2024) / invalid election id (e.g. pemilu-2024)"
        )
    return value


TpsCode = Annotated[
    str, AfterValidator(normalise_tps_code), Field(json_schema_extra={"pattern": TPS_CODE_PATTERN})
]
ElectionId = Annotated[
    str,
    AfterValidator(_check_election_id),
    Field(json_schema_extra={"pattern": ELECTION_ID_PATTERN}),
]


class FormModel(BaseModel):
    """Base for form sections: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LP(FormModel):
    """One row of the form with men (L), women (P) and their sum (L+P) as written."""

    l: Count  # noqa: E741 - the form's own column name
    p: Count
    jumlah: Count


class DataPemilih(FormModel):
    """Section I: registered voters and those who voted, by list."""

    dpt: LP  # I.A
    pengguna_dpt: LP  # I.B.1
    pengguna_dptb: LP  # I.B.2
    pengguna_dpk: LP  # I.B.3
    pengguna_total: LP  # I.B.4 = B.1 + B.2 + B.3


class SuratSuara(FormModel):
    """Section II: ballot papers."""

    diterima: Count  # II.1 received (DPT + 2% reserve; 2.5% in Pilkada)
    digunakan: Count  # II.2 used
    rusak: Count  # II.3 returned damaged or mis-marked
    sisa: Count  # II.4 unused


class SuaraPartai(FormModel):
    """Section IV for DPR/DPRD: one party's votes (A.1), its candidates' votes (A.2), total (B)."""

    nomor_partai: CandidateNo
    suara_partai: Count
    suara_calon: CandidateVotes = Field(default_factory=dict)
    jumlah: Count


def _votes_by_contest_kind() -> JsonDict:
    # The rule of _votes_match_contest_kind below, as JSON Schema, so that the OpenAPI says it.
    party_lists: list[JsonValue] = [c.value for c in sorted(PARTY_LIST_CONTESTS)]
    others: list[JsonValue] = [c.value for c in Contest if c not in PARTY_LIST_CONTESTS]
    return {
        "anyOf": [
            {
                "properties": {
                    "contest": {"enum": party_lists},
                    "suara_partai": {"type": "array", "minItems": 1},
                    "suara_calon": {"type": "null"},
                },
                "required": ["contest", "suara_partai"],
            },
            {
                "properties": {
                    "contest": {"enum": others},
                    "suara_calon": {"type": "object", "minProperties": 1},
                    "suara_partai": {"type": "null"},
                },
                "required": ["contest", "suara_calon"],
            },
        ]
    }


class CHasil(FormModel):
    """One C.Hasil form: the result of one contest at one TPS."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra=_votes_by_contest_kind()
    )
    election: ElectionId
    contest: Contest
    tps: TpsCode
    pemilih: DataPemilih | None = None
    surat_suara: SuratSuara | None = None
    disabilitas: LP | None = None  # section III
    suara_calon: CandidateVotes | None = None  # IV for paslon / DPD, by no. urut
    suara_partai: list[SuaraPartai] | None = None  # IV for DPR / DPRD
    suara_sah: Count  # V.A
    suara_tidak_sah: Count  # V.B
    jumlah_suara: Count | None = None  # V.C = A + B, when written

    @model_validator(mode="after")
    def _votes_match_contest_kind(self) -> Self:
        if self.contest.is_party_list:
            if not self.suara_partai or self.suara_calon is not None:
                raise ValueError(
                    f"{self.contest}: isi suara_partai (per partai), bukan suara_calon / "
                    f"{self.contest}: give suara_partai (per party), not suara_calon"
                )
            numbers = [p.nomor_partai for p in self.suara_partai]
            if len(numbers) != len(set(numbers)):
                raise ValueError("nomor partai ganda / duplicate party number")
        elif not self.suara_calon or self.suara_partai is not None:
            raise ValueError(
                f"{self.contest}: isi suara_calon (per nomor urut), bukan suara_partai / "
                f"{self.contest}: give suara_calon (per candidate number), not suara_partai"
            )
        return self

    def votes_by_candidate(self) -> dict[str, int]:
        """Flat vote lines used for totals: 'c<no>' per candidate, or 'p<no>' per party total."""
        if self.suara_partai is not None:
            return {f"p{p.nomor_partai}": p.jumlah for p in self.suara_partai}
        assert self.suara_calon is not None
        return {f"c{no}": votes for no, votes in self.suara_calon.items()}
