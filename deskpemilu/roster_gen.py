"""Deterministic generator of the shipped Banyuasin demo rosters (data/rosters/) from real facts."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROSTERS_DIR = Path(__file__).resolve().parent.parent / "data" / "rosters"
FACTS_PREFIX = "facts-banyuasin-"  # verbatim copies of ../shared/data/banyuasin, with their sources

PEMILU_FOLDER = "pemilu-2024-banyuasin"
PILKADA_FOLDER = "pilkada-2024-banyuasin"

# Kabupaten totals of Pemilu 2024 (sumateraekspres.bacakoran.co/amp/52041) and Pilkada 2024
# (p2k.stekom.ac.id/ensiklopedia/Pemilihan_umum_Bupati_Banyuasin_2024); per TPS they are made up.
PEMILU_DPT_L = 318_894
PEMILU_DPT_P = 307_094
PILKADA_DPT = 629_201
# No L/P split was found for the Pilkada: use the Pemilu's share of women, rounded to nearest.
PILKADA_DPT_P = (PILKADA_DPT * PEMILU_DPT_P * 2 + (PEMILU_DPT_L + PEMILU_DPT_P)) // (
    2 * (PEMILU_DPT_L + PEMILU_DPT_P)
)
PILKADA_DPT_L = PILKADA_DPT - PILKADA_DPT_P
# Sirekap's listing for Bupati Banyuasin 2024 has 1,389 TPS (the press said "about 1,384"); how
# many lie in each desa, and their DPT, is made up.
PILKADA_TPS = 1_389
PEMILU_MAX_DPT = 300
PILKADA_MAX_DPT = 600
DPD_CANDIDATES = 15

PROVINSI = ("16", "Sumatera Selatan")
KABKO = ("16.07", "Banyuasin", "kabupaten")

SOURCES = (
    "areas: https://github.com/cahyadsn/wilayah/blob/b7ad440a1322e7be3189a16a8cac35f7d4c3d7f7/"
    "db/archive/wilayah_2023.sql (Kepmendagri 100.1.1-6117 Tahun 2022)",
    "tps numbers: https://github.com/kawalpemilu/kp24/blob/7fe5e9751271fc192caee4e8e89802f322310ef8/"
    "src/assets/tps2.json (KawalPemilu 2024, from KPU data)",
)

# Pemilu 2024 national parties with the numbers KPU drew for them (Partai Ummat joined as 24).
PARTIES: tuple[tuple[int, str, str], ...] = (
    (1, "PKB", "Partai Kebangkitan Bangsa"),
    (2, "Gerindra", "Partai Gerakan Indonesia Raya"),
    (3, "PDI-P", "Partai Demokrasi Indonesia Perjuangan"),
    (4, "Golkar", "Partai Golongan Karya"),
    (5, "NasDem", "Partai NasDem"),
    (6, "Partai Buruh", "Partai Buruh"),
    (7, "Gelora", "Partai Gelombang Rakyat Indonesia"),
    (8, "PKS", "Partai Keadilan Sejahtera"),
    (9, "PKN", "Partai Kebangkitan Nusantara"),
    (10, "Hanura", "Partai Hati Nurani Rakyat"),
    (11, "Garuda", "Partai Garda Republik Indonesia"),
    (12, "PAN", "Partai Amanat Nasional"),
    (13, "PBB", "Partai Bulan Bintang"),
    (14, "Demokrat", "Partai Demokrat"),
    (15, "PSI", "Partai Solidaritas Indonesia"),
    (16, "Perindo", "Partai Persatuan Indonesia"),
    (17, "PPP", "Partai Persatuan Pembangunan"),
    (24, "Partai Ummat", "Partai Ummat"),
)

PEMILU_CONTESTS = (
    ("PPWP", "Presiden dan Wakil Presiden"),
    ("DPR", "DPR RI"),
    ("DPD", "DPD RI"),
    ("DPRD_PROV", "DPRD Provinsi Sumatera Selatan"),
    ("DPRD_KABKO", "DPRD Kabupaten Banyuasin"),
)
PARTY_LIST_LABELS = {"DPR": "DPR", "DPRD_PROV": "DPRD Prov", "DPRD_KABKO": "DPRD Kab"}
PASLON = {
    "PPWP": (
        (1, "Anies Rasyid Baswedan - Abdul Muhaimin Iskandar"),
        (2, "Prabowo Subianto - Gibran Rakabuming Raka"),
        (3, "Ganjar Pranowo - Mahfud MD"),
    ),
    "PILBUP": (
        (1, "Askolani - Netta Indian"),
        (2, "Slamet Somosentono - Alfi Novtriansyah Rustam"),
    ),
    "PILGUB": (
        (1, "Herman Deru - Cik Ujang"),
        (2, "Eddy Santana Putra - Riezky Aprilia"),
        (3, "Mawardi Yahya - Anita Noeringhati"),
    ),
}
PILKADA_CONTESTS = (
    ("PILGUB", "Gubernur dan Wakil Gubernur Sumatera Selatan"),
    ("PILBUP", "Bupati dan Wakil Bupati Banyuasin"),
)


@dataclass(frozen=True)
class Desa:
    """A desa/kelurahan from the facts, with its Pemilu 2024 TPS numbers."""

    code: str
    kecamatan_code: str
    name: str
    kind: str
    tps_numbers: tuple[int, ...]


@dataclass(frozen=True)
class Kecamatan:
    """A kecamatan from the facts."""

    code: str
    name: str


@dataclass(frozen=True)
class TpsRow:
    """One generated TPS row."""

    desa_code: str
    number: int
    dpt_l: int
    dpt_p: int


def unit(key: str) -> float:
    """A number in [0, 1) fixed by key: stable across Python versions and platforms."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def between(key: str, low: float, high: float) -> float:
    """A number in [low, high) fixed by key."""
    return low + (high - low) * unit(key)


def apportion(
    total: int,
    weights: Sequence[float],
    *,
    caps: Sequence[int] | None = None,
    floors: Sequence[int] | None = None,
) -> list[int]:
    """Split total into integers proportional to weights within [floor, cap] (largest remainder)."""
    n = len(weights)
    upper = list(caps) if caps is not None else [total] * n
    lower = list(floors) if floors is not None else [0] * n
    if not (sum(lower) <= total <= sum(upper)) or any(w <= 0 for w in weights):
        raise ValueError("cannot apportion: total outside [sum(floors), sum(caps)] or weight <= 0")
    result = [0] * n
    free = list(range(n))
    remaining = total
    # Water-filling: pin items whose share would fall outside their bounds, then share the rest.
    while free:
        weight_sum = sum(weights[i] for i in free)
        share = {i: remaining * weights[i] / weight_sum for i in free}
        low = [i for i in free if share[i] < lower[i]]
        high = [i for i in free if share[i] > upper[i]]
        pinned = low or high
        if not pinned:
            break
        for i in pinned:
            result[i] = lower[i] if low else upper[i]
            remaining -= result[i]
        pinned_set = set(pinned)
        free = [i for i in free if i not in pinned_set]
    if free:
        whole = {i: int(share[i]) for i in free}
        for i in free:
            result[i] = whole[i]
        left = remaining - sum(whole.values())
        by_remainder = sorted(free, key=lambda i: (-(share[i] - whole[i]), i))
        for i in by_remainder[:left]:
            result[i] += 1
    if sum(result) != total:
        # Floors and caps together can pin items into a dead end; the rosters here use one kind.
        raise ValueError("cannot apportion within these floors and caps")
    return result


def _read_facts(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _tps_numbers(regular: str, extra: str) -> tuple[int, ...]:
    numbers = list(range(1, int(regular) + 1))
    if extra:
        first, _, last = extra.partition("-")
        numbers.extend(range(int(first), int(last or first) + 1))
    return tuple(numbers)


def read_facts(facts_dir: Path) -> tuple[list[Kecamatan], list[Desa]]:
    """Kecamatan and desa (with their TPS numbers) from the verbatim fact files."""
    kecamatan = [
        Kecamatan(row["code"], row["name"])
        for row in _read_facts(facts_dir / f"{FACTS_PREFIX}kecamatan.csv")
    ]
    tps = {
        row["code"]: _tps_numbers(row["tps_regular"], row["tps_extra"])
        for row in _read_facts(facts_dir / f"{FACTS_PREFIX}tps_per_desa.csv")
    }
    desa = [
        Desa(row["code"], row["kecamatan_code"], row["name"], row["kind"], tps[row["code"]])
        for row in _read_facts(facts_dir / f"{FACTS_PREFIX}desa.csv")
    ]
    return kecamatan, desa


def split_sexes(totals: Sequence[int], total_l: int, salt: str) -> list[tuple[int, int]]:
    """Split each TPS total into (L, P) so that the L column sums to total_l exactly."""
    share_l = total_l / sum(totals)
    weights = [
        max(t, 1) * (share_l + between(f"{salt}:sex:{i}", -0.03, 0.03))
        for i, t in enumerate(totals)
    ]
    men = apportion(total_l, weights, caps=totals)
    return [(m, t - m) for m, t in zip(men, totals, strict=True)]


def pemilu_tps(desa: Sequence[Desa]) -> list[TpsRow]:
    """Pemilu TPS as in the facts, DPT spread to the kabupaten totals, at most 300 each."""
    slots = [(d, n) for d in desa for n in d.tps_numbers]
    # TPS lokasi khusus serve a hospital, prison or campus: a made-up 60-180 voters each.
    special = {
        i: round(between(f"pemilu:special:{d.code}.{n:03d}", 60, 180))
        for i, (d, n) in enumerate(slots)
        if n >= 900
    }
    regular = [i for i in range(len(slots)) if i not in special]
    weights = [
        between(f"pemilu:desa:{slots[i][0].code}", 0.85, 1.10)
        * between(f"pemilu:tps:{slots[i][0].code}.{slots[i][1]:03d}", 0.90, 1.08)
        for i in regular
    ]
    total = PEMILU_DPT_L + PEMILU_DPT_P
    spread = apportion(total - sum(special.values()), weights, caps=[PEMILU_MAX_DPT] * len(regular))
    totals = [0] * len(slots)
    for i, dpt in special.items():
        totals[i] = dpt
    for i, dpt in zip(regular, spread, strict=True):
        totals[i] = dpt
    sexes = split_sexes(totals, PEMILU_DPT_L, "pemilu")
    return [TpsRow(d.code, n, *lp) for (d, n), lp in zip(slots, sexes, strict=True)]


def pilkada_tps(desa: Sequence[Desa], pemilu: Sequence[TpsRow]) -> list[TpsRow]:
    """Pilkada TPS: counts per desa proportional to the Pemilu's, DPT following the Pemilu's."""
    counts = apportion(PILKADA_TPS, [len(d.tps_numbers) for d in desa], floors=[1] * len(desa))
    pemilu_dpt: dict[str, int] = {}
    for row in pemilu:
        pemilu_dpt[row.desa_code] = pemilu_dpt.get(row.desa_code, 0) + row.dpt_l + row.dpt_p
    desa_dpt = apportion(
        PILKADA_DPT,
        [pemilu_dpt[d.code] for d in desa],
        caps=[c * PILKADA_MAX_DPT for c in counts],
    )
    slots: list[tuple[str, int]] = []
    totals: list[int] = []
    for d, count, dpt in zip(desa, counts, desa_dpt, strict=True):
        weights = [between(f"pilkada:tps:{d.code}.{n:03d}", 0.92, 1.08) for n in range(count)]
        slots.extend((d.code, n + 1) for n in range(count))
        totals.extend(apportion(dpt, weights, caps=[PILKADA_MAX_DPT] * count))
    sexes = split_sexes(totals, PILKADA_DPT_L, "pilkada")
    return [TpsRow(code, n, *lp) for (code, n), lp in zip(slots, sexes, strict=True)]


def _csv_text(
    comments: Sequence[str], header: Sequence[str], rows: Sequence[Sequence[object]]
) -> str:
    out = io.StringIO()
    for comment in comments:
        out.write(f"# {comment}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _areas(kecamatan: Sequence[Kecamatan], desa: Sequence[Desa]) -> str:
    rows: list[list[str]] = [
        [PROVINSI[0], "provinsi", PROVINSI[1], "", ""],
        [KABKO[0], "kabko", KABKO[1], PROVINSI[0], KABKO[2]],
    ]
    rows += [[k.code, "kecamatan", k.name, KABKO[0], ""] for k in kecamatan]
    rows += [[d.code, "desa", d.name, d.kecamatan_code, d.kind] for d in desa]
    return _csv_text(
        ["Kemendagri area tree of Kabupaten Banyuasin (real codes and names).", *SOURCES[:1]],
        ["code", "level", "name", "parent_code", "kind"],
        rows,
    )


def _tps(rows: Sequence[TpsRow], comments: Sequence[str]) -> str:
    return _csv_text(
        comments,
        ["desa_code", "number", "dpt_l", "dpt_p", "generated"],
        [[r.desa_code, r.number, r.dpt_l, r.dpt_p, "true"] for r in rows],
    )


def _operators(kecamatan: Sequence[Kecamatan]) -> str:
    rows: list[list[object]] = []
    for index, k in enumerate(kecamatan, start=1):
        rows.append(
            [
                f"op-{k.code}",
                f"Operator Kecamatan {k.name} (demo)",
                "operator",
                k.code,
                f"62811000{index:02d}01",
                "true",
                "true",
            ]
        )
        # A second operator per kecamatan (a relief shift): two senders for one TPS is how
        # conflicting numbers arise on election day, and the simulator needs them.
        rows.append(
            [
                f"op2-{k.code}",
                f"Operator Kedua Kecamatan {k.name} (demo)",
                "operator",
                k.code,
                f"62811000{index:02d}03",
                "true",
                "true",
            ]
        )
        rows.append(
            [
                f"camat-{k.code}",
                f"Camat {k.name} (demo)",
                "camat",
                k.code,
                f"62811000{index:02d}02",
                "true",
                "true",
            ]
        )
    rows.append(
        [
            "admin-16.07",
            "Admin Desk Pemilu (demo)",
            "admin",
            KABKO[0],
            "628110009901",
            "true",
            "true",
        ]
    )
    rows.append(
        [
            "viewer-16.07",
            "Pemantau Desk Pemilu (demo)",
            "viewer",
            KABKO[0],
            "628110009902",
            "true",
            "true",
        ]
    )
    return _csv_text(
        ["Demo operators: made-up people and fake phone numbers (demo=true); never message them."],
        ["id", "name", "role", "scope", "phone", "active", "demo"],
        rows,
    )


def _election(row: Sequence[object], comments: Sequence[str]) -> str:
    return _csv_text(
        comments,
        ["id", "kind", "name", "date", "max_dpt_per_tps", "ballot_reserve_pct"],
        [row],
    )


def _contests(contests: Sequence[tuple[str, str]]) -> str:
    return _csv_text([], ["contest", "name"], contests)


def _paslon_rows(contest: str) -> list[list[object]]:
    return [[contest, "", nomor, name, "false"] for nomor, name in PASLON[contest]]


def pemilu_candidates() -> list[list[object]]:
    """Candidate rows of the Pemilu: real paslon, generated DPD and party-list candidates."""
    rows = _paslon_rows("PPWP")
    rows += [["DPD", "", n, f"Calon DPD {n}", "true"] for n in range(1, DPD_CANDIDATES + 1)]
    for contest, label in PARTY_LIST_LABELS.items():
        for nomor, short, _ in PARTIES:
            count = 3 + int(unit(f"pemilu:list:{contest}:{nomor}") * 6)  # 3..8 per party
            rows += [
                [contest, nomor, n, f"Calon {label} {short} {n}", "true"]
                for n in range(1, count + 1)
            ]
    return rows


CANDIDATE_HEADER = ("contest", "party", "nomor", "name", "generated")


def render(facts_dir: Path = ROSTERS_DIR) -> dict[str, dict[str, str]]:
    """Every file of both rosters as text, by folder and file name."""
    kecamatan, desa = read_facts(facts_dir)
    pemilu = pemilu_tps(desa)
    pilkada = pilkada_tps(desa, pemilu)
    areas = _areas(kecamatan, desa)
    operators = _operators(kecamatan)
    generated_note = "Generated by deskpemilu/roster_gen.py; do not edit by hand, re-run it."
    return {
        PEMILU_FOLDER: {
            "election.csv": _election(
                [
                    "pemilu-2024",
                    "pemilu",
                    "Pemilu 2024 - Kabupaten Banyuasin",
                    "2024-02-14",
                    PEMILU_MAX_DPT,
                    "2.0",
                ],
                [generated_note, "Pemilu 14 Feb 2024; cap 300 DPT per TPS, 2% ballot reserve."],
            ),
            "areas.csv": areas,
            "tps.csv": _tps(
                pemilu,
                [
                    "TPS numbers are real (1..n per desa plus 9xx lokasi khusus); DPT per TPS is "
                    "GENERATED (generated=true),",
                    f"spread so that the kabupaten totals are real: L {PEMILU_DPT_L}, "
                    f"P {PEMILU_DPT_P}, total {PEMILU_DPT_L + PEMILU_DPT_P}.",
                    SOURCES[1],
                    "DPT total: sumateraekspres.bacakoran.co/amp/52041",
                ],
            ),
            "contests.csv": _contests(PEMILU_CONTESTS),
            "parties.csv": _csv_text(
                ["The 18 national parties of Pemilu 2024 with their KPU numbers."],
                ["nomor", "short_name", "name"],
                PARTIES,
            ),
            "candidates.csv": _csv_text(
                [
                    "PPWP paslon are real; DPD and DPR/DPRD candidates are GENERATED "
                    "(generated=true)."
                ],
                CANDIDATE_HEADER,
                pemilu_candidates(),
            ),
            "operators.csv": operators,
        },
        PILKADA_FOLDER: {
            "election.csv": _election(
                [
                    "pilkada-2024",
                    "pilkada",
                    "Pilkada 2024 - Kabupaten Banyuasin",
                    "2024-11-27",
                    PILKADA_MAX_DPT,
                    "2.5",
                ],
                [generated_note, "Pilkada 27 Nov 2024; cap 600 DPT per TPS, 2.5% ballot reserve."],
            ),
            "areas.csv": areas,
            "tps.csv": _tps(
                pilkada,
                [
                    f"GENERATED: {PILKADA_TPS} TPS spread over the desa in proportion to their "
                    "Pemilu 2024 TPS, numbered 1..n;",
                    f"DPT total {PILKADA_DPT} is real, its L/P split (L {PILKADA_DPT_L}, "
                    f"P {PILKADA_DPT_P}) follows the Pemilu 2024 share.",
                    "DPT: p2k.stekom.ac.id/ensiklopedia/Pemilihan_umum_Bupati_Banyuasin_2024;",
                    f"TPS count {PILKADA_TPS}: Sirekap's TPS listing for Bupati Banyuasin 2024.",
                ],
            ),
            "contests.csv": _contests(PILKADA_CONTESTS),
            "candidates.csv": _csv_text(
                [
                    "Real paslon. PILBUP: merahputihnews.co.id/2024/09/23/"
                    "kpu-banyuasin-undi-nomor-urut-paslon-bupati-dan-wakil-bupati-banyuasin",
                    "PILGUB: palpres.bacakoran.co/read/29908/"
                    "pilkada-sumsel-2024-satu-putaran-hdcu-sapu-bersih-15-daerah/15",
                ],
                CANDIDATE_HEADER,
                _paslon_rows("PILGUB") + _paslon_rows("PILBUP"),
            ),
            "operators.csv": operators,
        },
    }


def generate(out_dir: Path = ROSTERS_DIR, facts_dir: Path = ROSTERS_DIR) -> list[Path]:
    """Write both roster folders under out_dir; returns the files written."""
    written: list[Path] = []
    for folder, files in render(facts_dir).items():
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = out_dir / folder / name
            path.write_bytes(text.encode("utf-8"))
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: python -m deskpemilu.roster_gen [--out DIR]."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROSTERS_DIR, help="folder to write into")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)


if __name__ == "__main__":
    main()
