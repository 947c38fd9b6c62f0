"""The roster as the read API needs it in memory: names, the area tree, TPS and DPT per area."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from services.api.repository import RosterRows, fetch_roster_rows
from shared.form import PARTY_LIST_CONTESTS, Contest
from shared.roster import ancestors_of
from shared.roster_cache import RosterCache
from shared.roster_db import Conn

# Below this level the dashboard home would be a single kecamatan: stop descending at kabko.
_HOME_LEVELS = ("provinsi", "kabko")


@dataclass(frozen=True, slots=True)
class Area:
    """One node of the Kemendagri area tree."""

    code: str
    level: str
    name: str
    parent_code: str | None
    kind: str | None


@dataclass(frozen=True, slots=True)
class VoteLine:
    """A column of the totals: 'c<no>' for a paslon or DPD candidate, 'p<no>' for a party."""

    key: str
    nomor: int
    name: str
    short_name: str
    generated: bool = False


@dataclass(frozen=True, slots=True)
class ContestMeta:
    """A contest of an election and its vote lines in ballot order."""

    contest: str
    name: str
    party_list: bool
    lines: tuple[VoteLine, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """TPS and DPT of an election under one area (the progress denominators)."""

    tps: int = 0
    dpt: int = 0


@dataclass(frozen=True, slots=True)
class ElectionMeta:
    """An election with its contests and where its TPS are."""

    id: str
    kind: str
    name: str
    date: date
    contests: dict[str, ContestMeta]
    coverage: dict[str, Coverage]  # area code -> TPS and DPT below it
    top_areas: tuple[str, ...]  # provinsi holding this election's TPS
    home_area: str  # deepest area holding all its TPS, at most down to kabko

    def covers(self, area_code: str) -> bool:
        """True when the election has TPS under this area."""
        return area_code in self.coverage


@dataclass(frozen=True, slots=True)
class RosterSnapshot:
    """Everything cached from one roster version."""

    version: int
    areas: dict[str, Area] = field(default_factory=dict)
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)
    elections: dict[str, ElectionMeta] = field(default_factory=dict)

    def breadcrumb(self, code: str) -> list[Area]:
        """The area and its ancestors, top first."""
        chain = []
        current: str | None = code
        while current is not None and current in self.areas:
            area = self.areas[current]
            chain.append(area)
            current = area.parent_code
        return chain[::-1]


def _party_lines(parties: list[tuple[int, str, str]]) -> tuple[VoteLine, ...]:
    return tuple(VoteLine(f"p{nomor}", nomor, name, short) for nomor, short, name in parties)


def build_snapshot(rows: RosterRows) -> RosterSnapshot:
    """Assemble the in-memory roster from the fetched rows."""
    areas = {
        r["code"]: Area(r["code"], r["level"], r["name"], r["parent_code"], r["kind"])
        for r in rows.areas
    }
    children: dict[str, list[str]] = defaultdict(list)
    for area in areas.values():  # rows come ordered by code, so children stay ordered
        if area.parent_code is not None:
            children[area.parent_code].append(area.code)

    parties: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for r in rows.parties:
        parties[r["election"]].append((r["nomor"], r["short_name"], r["name"]))
    candidates: dict[tuple[str, str], list[VoteLine]] = defaultdict(list)
    for r in rows.candidates:
        candidates[r["election"], r["contest"]].append(
            VoteLine(f"c{r['nomor']}", r["nomor"], r["name"], r["name"], r["generated"])
        )
    contests: dict[str, dict[str, ContestMeta]] = defaultdict(dict)
    for r in rows.contests:
        party_list = Contest(r["contest"]) in PARTY_LIST_CONTESTS
        lines = (
            _party_lines(parties[r["election"]])
            if party_list
            else tuple(candidates[r["election"], r["contest"]])
        )
        contests[r["election"]][r["contest"]] = ContestMeta(
            r["contest"], r["name"], party_list, lines
        )

    tps_count: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    dpt_count: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows.tps_per_desa:
        for code in (r["desa_code"], *ancestors_of(r["desa_code"] + ".000")[1:]):
            tps_count[r["election"]][code] += r["tps"]
            dpt_count[r["election"]][code] += r["dpt"] or 0

    elections = {}
    for r in rows.elections:
        eid = r["id"]
        coverage = {
            code: Coverage(count, dpt_count[eid][code]) for code, count in tps_count[eid].items()
        }
        top = tuple(sorted(c for c in coverage if c in areas and areas[c].parent_code is None))
        elections[eid] = ElectionMeta(
            id=eid,
            kind=r["kind"],
            name=r["name"],
            date=r["date"],
            contests=dict(contests[eid]),
            coverage=coverage,
            top_areas=top,
            home_area=_home_area(top, coverage, areas, children),
        )
    return RosterSnapshot(
        version=rows.version,
        areas=areas,
        children={k: tuple(v) for k, v in children.items()},
        elections=elections,
    )


def _home_area(
    top: tuple[str, ...],
    coverage: dict[str, Coverage],
    areas: dict[str, Area],
    children: dict[str, list[str]],
) -> str:
    if not top:
        return ""
    # Several provinces: start at the one with the most TPS (there is no national area row).
    current = max(top, key=lambda c: coverage[c].tps)
    while areas[current].level in _HOME_LEVELS[:-1]:
        covered = [c for c in children.get(current, []) if c in coverage]
        if len(covered) != 1:
            break
        current = covered[0]
    return current


async def load_snapshot(conn: Conn) -> RosterSnapshot:
    """Fetch the roster rows (one snapshot) and assemble them."""
    return build_snapshot(await fetch_roster_rows(conn))


def roster_cache(snapshot: RosterSnapshot) -> RosterCache[RosterSnapshot]:
    """The shared roster cache, starting from a snapshot already loaded at start."""
    cache = RosterCache(load_snapshot, snapshot)
    cache.version = snapshot.version
    return cache
