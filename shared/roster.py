"""The in-memory roster of one election: areas, TPS with DPT, contests and their candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.form import Contest


class AreaLevel(StrEnum):
    """Levels of the Kemendagri area tree, top first."""

    PROVINSI = "provinsi"  # 16
    KABKO = "kabko"  # 16.07
    KECAMATAN = "kecamatan"  # 16.07.01
    DESA = "desa"  # 16.07.01.1016 (desa or kelurahan)
    TPS = "tps"  # 16.07.01.1016.001


def ancestors_of(tps_code: str) -> tuple[str, ...]:
    """Area codes above a TPS, nearest first: desa, kecamatan, kabko, provinsi."""
    parts = tps_code.split(".")
    return tuple(".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1))


@dataclass(frozen=True, slots=True)
class TpsInfo:
    """One TPS of an election's roster with its registered voters (DPT) by sex."""

    code: str
    number: int
    dpt_l: int
    dpt_p: int

    @property
    def dpt(self) -> int:
        """Registered voters, men plus women."""
        return self.dpt_l + self.dpt_p

    @property
    def desa_code(self) -> str:
        """Code of the desa/kelurahan holding this TPS."""
        return self.code.rsplit(".", 1)[0]

    @property
    def kecamatan_code(self) -> str:
        """Code of the kecamatan holding this TPS."""
        return ".".join(self.code.split(".")[:3])


@dataclass(frozen=True, slots=True)
class ContestInfo:
    """A contest of an election: its candidates (paslon/DPD) or parties with candidate lists."""

    contest: Contest
    candidates: frozenset[int] = frozenset()  # no. urut, for candidate contests
    parties: dict[int, frozenset[int]] = field(default_factory=dict)  # party no -> candidate nos


@dataclass(frozen=True, slots=True)
class ElectionRoster:
    """Everything the validator needs to judge a form of one election."""

    election_id: str
    kind: str  # 'pemilu' or 'pilkada'
    max_dpt_per_tps: int  # 300 in Pemilu 2024, 600 in Pilkada 2024
    ballot_reserve_pct: float  # 2.0 in Pemilu, 2.5 in Pilkada
    tps: dict[str, TpsInfo]
    contests: dict[Contest, ContestInfo]
