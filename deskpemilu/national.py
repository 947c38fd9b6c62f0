"""Synthetic national Pemilu roster (38 provinsi down to 823,220 TPS) written as a roster folder."""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deskpemilu.roster_gen import CANDIDATE_HEADER, PARTIES, pemilu_candidates

ELECTION_ID = "pemilu-2024-nasional"
MAX_DPT = 300  # Pemilu 2024 cap per TPS
# KPU's national DPT recap of 2 July 2023 (domestic and abroad together), as reported by
# https://balipost.com/news/2023/07/02/347860/KPU-RI-Tetapkan-DPT-Pemilu...html
SOURCE = "https://balipost.com/news/2023/07/02/347860/KPU-RI-Tetapkan-DPT-Pemilu...html"

# The 38 real Kemendagri province codes. Generated provinces use other two-digit codes, because
# areas are shared by every election in a database: a synthetic 16.07 would rename Banyuasin.
REAL_PROVINSI_CODES = frozenset(
    {*range(11, 20), 21, *range(31, 37), *range(51, 54), *range(61, 66), *range(71, 77)}
    | {81, 82, *range(91, 97)}
)
KOTA_FIRST_CODE = 71  # Kemendagri numbers kota from 71 within a province, kabupaten from 01
SPECIAL_TPS_SHARE = 0.025  # desa with one TPS lokasi khusus (901): hospital, prison, campus

NATIONAL_CONTESTS = (
    ("PPWP", "Presiden dan Wakil Presiden"),
    ("DPR", "DPR RI"),
    ("DPD", "DPD RI"),
    ("DPRD_PROV", "DPRD Provinsi"),
    ("DPRD_KABKO", "DPRD Kabupaten/Kota"),
)


@dataclass(frozen=True)
class Scale:
    """How many areas, TPS and voters a generated roster holds."""

    provinsi: int
    kabko: int
    kecamatan: int
    desa: int
    tps: int
    dpt_l: int
    dpt_p: int
    kota: int  # how many of the kabko are kota (all their desa are kelurahan)

    @property
    def dpt(self) -> int:
        """Registered voters, men plus women."""
        return self.dpt_l + self.dpt_p


# KPU, 2 July 2023: 514 kabupaten/kota, 7,277 kecamatan, 83,731 desa/kelurahan, 823,220 TPS
# (TPSLN, KSK and pos abroad included), DPT L 102,218,503 + P 102,588,719 = 204,807,222.
# 98 kota is the count of the time (416 kabupaten + 98 kota).
NATIONAL = Scale(
    provinsi=38,
    kabko=514,
    kecamatan=7_277,
    desa=83_731,
    tps=823_220,
    dpt_l=102_218_503,
    dpt_p=102_588_719,
    kota=98,
)


@dataclass(frozen=True, slots=True)
class Area:
    """One generated area."""

    code: str
    level: str
    name: str
    parent_code: str
    kind: str


@dataclass
class NationalRoster:
    """A generated roster in memory: areas top-down and TPS rows (desa, number, dpt_l, dpt_p)."""

    scale: Scale
    seed: int
    areas: list[Area] = field(default_factory=list)
    tps: list[tuple[str, int, int, int]] = field(default_factory=list)

    def count(self, level: str) -> int:
        """Areas at one level."""
        return sum(1 for a in self.areas if a.level == level)


@dataclass(frozen=True)
class WriteReport:
    """What `generate` wrote, and how long it took."""

    folder: Path
    provinsi: int
    kabko: int
    kecamatan: int
    desa: int
    tps: int
    tps_special: int
    dpt_l: int
    dpt_p: int
    max_dpt: int
    operators: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.folder}: {self.provinsi} provinsi, {self.kabko:,} kabko, "
            f"{self.kecamatan:,} kecamatan, {self.desa:,} desa, {self.tps:,} TPS "
            f"({self.tps_special:,} khusus), DPT {self.dpt_l + self.dpt_p:,} "
            f"(L {self.dpt_l:,}, P {self.dpt_p:,}, max {self.max_dpt} per TPS), "
            f"{self.operators:,} operators; {self.seconds:.1f}s"
        )


def apportion(
    total: int, weights: Sequence[float], lower: Sequence[int], upper: Sequence[int]
) -> list[int]:
    """Whole numbers near c * weight within [lower, upper] that sum to total (largest remainder)."""
    n = len(weights)
    if not sum(lower) <= total <= sum(upper) or any(w <= 0 for w in weights):
        raise ValueError("cannot apportion: total outside [sum(lower), sum(upper)] or weight <= 0")
    # f(c) = sum(clamp(c * w, lo, hi)) is piecewise linear and rising: sweep its breakpoints
    # in order (O(n log n)) instead of bisecting, which would cost many passes over 823k TPS.
    enter = [lower[i] / weights[i] for i in range(n)]
    leave = [upper[i] / weights[i] for i in range(n)]
    entering = sorted(range(n), key=enter.__getitem__)
    leaving = sorted(range(n), key=leave.__getitem__)
    constant = float(sum(lower))
    slope = 0.0
    scale = leave[leaving[-1]] if n else 0.0
    a = b = 0
    while b < n:
        # Items enter the linear part before they leave it (enter <= leave for each item).
        if a < n and enter[entering[a]] <= leave[leaving[b]]:
            i, at, leaves = entering[a], enter[entering[a]], False
            a += 1
        else:
            i, at, leaves = leaving[b], leave[leaving[b]], True
            b += 1
        if slope > 0 and constant + slope * at >= total:
            scale = (total - constant) / slope
            break
        if leaves:
            slope -= weights[i]
            constant += upper[i]
        else:
            slope += weights[i]
            constant -= lower[i]
    exact = [min(upper[i], max(lower[i], scale * weights[i])) for i in range(n)]
    result = [math.floor(x) for x in exact]
    fraction = [x - r for x, r in zip(exact, result, strict=True)]
    left = total - sum(result)
    # Stable sorts: equal remainders go to the lower index, so the result is deterministic.
    if left > 0:
        grow = [i for i in range(n) if result[i] < upper[i]]
        for i in sorted(grow, key=fraction.__getitem__, reverse=True)[:left]:
            result[i] += 1
    elif left < 0:  # float rounding only: take back from the smallest remainders
        shrink = [i for i in range(n) if result[i] > lower[i]]
        for i in sorted(shrink, key=fraction.__getitem__)[:-left]:
            result[i] -= 1
    if sum(result) != total:
        raise ValueError("cannot apportion within these bounds")
    return result


def provinsi_codes(count: int) -> list[str]:
    """Two-digit codes that no real province has, lowest first."""
    codes = [f"{c:02d}" for c in range(10, 99) if c not in REAL_PROVINSI_CODES]
    if count > len(codes):
        raise ValueError(f"at most {len(codes)} synthetic provinces")
    return codes[:count]


def build(scale: Scale = NATIONAL, *, seed: int = 2024) -> NationalRoster:
    """The area tree and TPS of a roster with exactly the scale's counts (deterministic)."""
    # A str seed is hashed with SHA-512 and random() is Mersenne Twister: both stable across
    # Python versions and platforms, so the same seed always writes the same bytes.
    rng = random.Random(f"deskpemilu-national:{seed}")
    roster = NationalRoster(scale=scale, seed=seed)

    prov_codes = provinsi_codes(scale.provinsi)
    # Provinces differ a lot (Jawa Barat has ~100 times the voters of Papua Selatan).
    prov_weight = [math.exp(rng.uniform(-2.0, 2.0)) for _ in prov_codes]
    kabko_per_prov = apportion(
        scale.kabko, [w**0.6 for w in prov_weight], [1] * scale.provinsi, [60] * scale.provinsi
    )
    kabko_draw = [rng.random() for _ in range(scale.kabko)]
    kota_set = set(sorted(range(scale.kabko), key=lambda i: (kabko_draw[i], i))[: scale.kota])

    kabko: list[tuple[str, bool, float]] = []  # code, is kota, province weight
    index = 0
    for prov, count, weight in zip(prov_codes, kabko_per_prov, prov_weight, strict=True):
        roster.areas.append(Area(prov, "provinsi", f"Provinsi Sintetis {prov}", "", ""))
        flags = [index + k in kota_set for k in range(count)]
        index += count
        kabupaten = [f"{prov}.{n + 1:02d}" for n in range(flags.count(False))]
        if KOTA_FIRST_CODE + flags.count(True) > 100:
            raise ValueError(f"too many kota in provinsi {prov} for two-digit codes")
        kota_codes = [f"{prov}.{KOTA_FIRST_CODE + n:02d}" for n in range(flags.count(True))]
        for code in kabupaten:
            kabko.append((code, False, weight))
            roster.areas.append(
                Area(code, "kabko", f"Kabupaten Sintetis {code}", prov, "kabupaten")
            )
        for code in kota_codes:
            kabko.append((code, True, weight))
            roster.areas.append(Area(code, "kabko", f"Kota Sintetis {code}", prov, "kota"))

    kec_per_kabko = apportion(
        scale.kecamatan,
        [math.exp(rng.uniform(-0.7, 0.7)) * (0.4 if is_kota else 1.0) for _, is_kota, _ in kabko],
        [1] * len(kabko),
        [99] * len(kabko),
    )
    kecamatan: list[tuple[str, bool, float]] = []
    for (code, is_kota, weight), count in zip(kabko, kec_per_kabko, strict=True):
        for n in range(count):
            kec = f"{code}.{n + 1:02d}"
            kecamatan.append((kec, is_kota, weight))
            roster.areas.append(Area(kec, "kecamatan", f"Kecamatan Sintetis {kec}", code, ""))

    desa_per_kec = apportion(
        scale.desa,
        [math.exp(rng.uniform(-0.8, 0.8)) for _ in kecamatan],
        [1] * len(kecamatan),
        [400] * len(kecamatan),
    )
    desa: list[tuple[str, bool, float]] = []  # code, is kelurahan, TPS weight
    for (kec, is_kota, weight), count in zip(kecamatan, desa_per_kec, strict=True):
        # Kemendagri: a desa part starting with 1 is a kelurahan, with 2 a desa.
        kelurahan = count if is_kota else sum(1 for _ in range(count) if rng.random() < 0.06)
        for n in range(count):
            is_kel = n < kelurahan
            code = f"{kec}.{1001 + n if is_kel else 2001 + n - kelurahan}"
            # Big provinces and towns have more voters per desa, so more TPS.
            tps_weight = weight**0.4 * math.exp(rng.uniform(-0.9, 0.9)) * (2.0 if is_kel else 1.0)
            desa.append((code, is_kel, tps_weight))
            kind = "kelurahan" if is_kel else "desa"
            name = f"{kind.capitalize()} Sintetis {code}"
            roster.areas.append(Area(code, "desa", name, kec, kind))

    tps_per_desa = apportion(scale.tps, [w for _, _, w in desa], [1] * len(desa), [600] * len(desa))
    slots: list[tuple[str, int]] = []
    for (code, _, _), count in zip(desa, tps_per_desa, strict=True):
        special = count >= 2 and rng.random() < SPECIAL_TPS_SHARE
        slots.extend((code, n) for n in range(1, count if special else count + 1))
        if special:
            slots.append((code, 901))

    # DPT: TPS lokasi khusus get a made-up 60-180; the rest share the national total, at most
    # MAX_DPT each, varying by desa and by TPS.
    desa_factor = {code: rng.uniform(0.90, 1.06) for code, _, _ in desa}
    totals = [0] * len(slots)
    regular: list[int] = []
    regular_weights: list[float] = []
    for i, (code, number) in enumerate(slots):
        if number >= 900:
            totals[i] = round(rng.uniform(60, 180))
        else:
            regular.append(i)
            regular_weights.append(desa_factor[code] * rng.uniform(0.78, 1.12))
    spread = apportion(
        scale.dpt - sum(totals), regular_weights, [0] * len(regular), [MAX_DPT] * len(regular)
    )
    for i, dpt in zip(regular, spread, strict=True):
        totals[i] = dpt
    share_l = scale.dpt_l / scale.dpt
    men = apportion(
        scale.dpt_l,
        [max(t, 1) * (share_l + rng.uniform(-0.03, 0.03)) for t in totals],
        [0] * len(totals),
        totals,
    )
    roster.tps = [
        (code, number, m, t - m) for (code, number), m, t in zip(slots, men, totals, strict=True)
    ]
    return roster


def _file(comments: Sequence[str], header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    # Generated names and codes hold no comma, quote or newline: plain joining is valid CSV.
    lines = [f"# {c}" for c in comments]
    lines.append(",".join(header))
    lines.extend(",".join(map(str, r)) for r in rows)
    return "\n".join(lines) + "\n"


def render(roster: NationalRoster, *, provinces: int | None = None) -> dict[str, str]:
    """Every file of the roster folder as text; `provinces` keeps only the first N (a slice)."""
    scale = roster.scale
    areas = roster.areas
    tps = roster.tps
    kept = ""
    if provinces is not None:
        keep = {a.code for a in areas if a.level == "provinsi"}
        keep = set(sorted(keep)[:provinces])
        areas = [a for a in areas if a.code[:2] in keep]
        tps = [t for t in tps if t[0][:2] in keep]
        kept = f" - irisan {len(keep)} provinsi"
    generated = (
        f"GENERATED by deskpemilu/national.py (seed {roster.seed}); do not edit, re-run "
        "`deskpemilu roster national`."
    )
    synthetic = (
        "SYNTHETIC: the counts per level are the real national ones (KPU, 2 July 2023), but "
        "every code, name, TPS and DPT figure is made up."
    )
    codes_note = (
        "Provinsi codes avoid the 38 real Kemendagri codes (areas are shared by all elections "
        "in a database); below that the codes have the Kemendagri shape."
    )
    kecamatan = [a for a in areas if a.level == "kecamatan"]
    operators: list[list[object]] = [
        [
            f"op-{k.code}",
            f"Operator {k.name} (demo)",
            "operator",
            k.code,
            f"6289{n:08d}",
            "true",
            "true",
        ]
        for n, k in enumerate(kecamatan, start=1)
    ]
    # Empty scope: everywhere.
    operators.append(["admin-nasional", "Admin Desk Nasional (demo)", "admin", "", "628999999901"])
    operators.append(
        ["viewer-nasional", "Pemantau Desk Nasional (demo)", "viewer", "", "628999999902"]
    )
    for row in operators[-2:]:
        row += ["true", "true"]
    candidates = pemilu_candidates()  # the Banyuasin lists: real paslon, generated others
    return {
        "election.csv": _file(
            [generated, f"{synthetic}", "Pemilu 14 Feb 2024; cap 300 DPT per TPS, 2% reserve."],
            ["id", "kind", "name", "date", "max_dpt_per_tps", "ballot_reserve_pct"],
            [
                [
                    ELECTION_ID,
                    "pemilu",
                    f"Pemilu 2024 - Nasional (sintetis{kept})",
                    "2024-02-14",
                    MAX_DPT,
                    "2.0",
                ]
            ],
        ),
        "areas.csv": _file(
            [generated, synthetic, codes_note, f"Counts: {SOURCE}"],
            ["code", "level", "name", "parent_code", "kind"],
            [[a.code, a.level, a.name, a.parent_code, a.kind] for a in areas],
        ),
        "tps.csv": _file(
            [
                generated,
                f"GENERATED TPS and DPT (generated=true): {scale.tps:,} TPS nationally; DPT total "
                f"{scale.dpt:,} (L {scale.dpt_l:,}, P {scale.dpt_p:,}) is real, its spread is not.",
                f"At most {MAX_DPT} per TPS; one TPS lokasi khusus (901, DPT 60-180) in about "
                f"{SPECIAL_TPS_SHARE:.1%} of the desa. Totals: {SOURCE}",
            ],
            ["desa_code", "number", "dpt_l", "dpt_p", "generated"],
            [[code, number, m, p, "true"] for code, number, m, p in tps],
        ),
        "contests.csv": _file([], ["contest", "name"], NATIONAL_CONTESTS),
        "parties.csv": _file(
            ["The 18 national parties of Pemilu 2024 with their KPU numbers."],
            ["nomor", "short_name", "name"],
            PARTIES,
        ),
        "candidates.csv": _file(
            [
                "PPWP paslon are real; DPD and DPR/DPRD candidates are GENERATED "
                "(generated=true), one list per contest for the whole country."
            ],
            CANDIDATE_HEADER,
            candidates,
        ),
        "operators.csv": _file(
            [
                "Demo operators: one per kecamatan plus an admin and a viewer with national scope;",
                "made-up people and fake phone numbers (demo=true): never message them.",
            ],
            ["id", "name", "role", "scope", "phone", "active", "demo"],
            operators,
        ),
    }


def generate(
    out: Path, *, scale: Scale = NATIONAL, seed: int = 2024, provinces: int | None = None
) -> WriteReport:
    """Write the roster folder (docs/ROSTER_FORMAT.md) to out; returns its counts and time."""
    started = time.perf_counter()
    roster = build(scale, seed=seed)
    files = render(roster, provinces=provinces)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_bytes(text.encode("utf-8"))
    kept = {a.code for a in roster.areas if a.level == "provinsi"}
    if provinces is not None:
        kept = set(sorted(kept)[:provinces])
    areas = [a for a in roster.areas if a.code[:2] in kept]
    tps = [t for t in roster.tps if t[0][:2] in kept]
    levels = {level: sum(1 for a in areas if a.level == level) for level in ("provinsi", "kabko")}
    levels |= {level: sum(1 for a in areas if a.level == level) for level in ("kecamatan", "desa")}
    return WriteReport(
        folder=out,
        provinsi=levels["provinsi"],
        kabko=levels["kabko"],
        kecamatan=levels["kecamatan"],
        desa=levels["desa"],
        tps=len(tps),
        tps_special=sum(1 for t in tps if t[1] >= 900),
        dpt_l=sum(t[2] for t in tps),
        dpt_p=sum(t[3] for t in tps),
        max_dpt=max((t[2] + t[3] for t in tps), default=0),
        operators=levels["kecamatan"] + 2,
        seconds=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: python -m deskpemilu.national --out DIR [--seed N] [--provinces N]."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--provinces", type=int, default=None, help="only the first N provinces")
    args = parser.parse_args(argv)
    print(generate(args.out, seed=args.seed, provinces=args.provinces))


if __name__ == "__main__":
    main()
