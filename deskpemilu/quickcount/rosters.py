"""Election rosters straight from the roster folders in data/rosters, without a database."""

from __future__ import annotations

from pathlib import Path

from deskpemilu.roster_load import read_roster_folder
from shared.form import Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

ROSTERS_DIR = Path(__file__).resolve().parents[2] / "data" / "rosters"


def roster_from_folder(folder: Path) -> ElectionRoster:
    """The ElectionRoster a roster folder loads into (as shared.roster_db would read it back)."""
    files = read_roster_folder(folder)
    tps = {t.code: TpsInfo(t.code, t.number, t.dpt_l, t.dpt_p) for t in files.tps}
    parties = sorted(n for n, _, _ in files.parties)
    contests: dict[Contest, ContestInfo] = {}
    for contest in files.contests:
        rows = [c for c in files.candidates if c.contest is contest]
        if contest.is_party_list:
            contests[contest] = ContestInfo(
                contest,
                parties={p: frozenset(c.nomor for c in rows if c.party == p) for p in parties},
            )
        else:
            contests[contest] = ContestInfo(contest, candidates=frozenset(c.nomor for c in rows))
    return ElectionRoster(
        election_id=files.election.id,
        kind=files.election.kind,
        max_dpt_per_tps=files.election.max_dpt_per_tps,
        ballot_reserve_pct=float(files.election.ballot_reserve_pct),
        tps=tps,
        contests=contests,
    )


def known_folders() -> dict[str, Path]:
    """Election id -> roster folder, for every folder in data/rosters."""
    found: dict[str, Path] = {}
    for folder in sorted(p for p in ROSTERS_DIR.iterdir() if (p / "election.csv").exists()):
        for line in (folder / "election.csv").read_text().splitlines():
            if line and not line.startswith(("#", "id,")):
                found[line.split(",", 1)[0]] = folder
                break
    return found
