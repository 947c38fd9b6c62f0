"""Election rosters straight from the roster folders in data/rosters, without a database."""

from __future__ import annotations

from pathlib import Path

from deskpemilu.roster_files import read_roster_folder
from deskpemilu.runtime import DEFAULT_ROSTERS
from shared.errors import BilingualError
from shared.form import Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo


class QuickCountInputError(BilingualError):
    """An election, contest or sample the quick count cannot work with; nothing was stored."""


def election_not_loaded(election: str) -> QuickCountInputError:
    """The error for an election without a roster."""
    return QuickCountInputError(
        "ELECTION_UNKNOWN",
        f"pemilihan {election!r} tidak punya roster",
        f"election {election!r} has no roster",
    )


def contest_of(roster: ElectionRoster, contest: str) -> Contest:
    """The contest by its code, if the election holds it; else a bilingual error."""
    try:
        value = Contest(contest.upper())
    except ValueError:
        value = None
    if value is None or value not in roster.contests:
        held = ", ".join(sorted(str(c) for c in roster.contests))
        raise QuickCountInputError(
            "CONTEST_NOT_IN_ELECTION",
            f"pemilihan {roster.election_id} tidak memuat kontes {contest!r} (ada: {held})",
            f"election {roster.election_id} does not hold contest {contest!r} (it holds: {held})",
        )
    return value


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
    for folder in sorted(p for p in DEFAULT_ROSTERS.iterdir() if (p / "election.csv").exists()):
        for line in (folder / "election.csv").read_text().splitlines():
            if line and not line.startswith(("#", "id,")):
                found[line.split(",", 1)[0]] = folder
                break
    return found


def roster_of(election: str, folder: Path | None = None) -> ElectionRoster:
    """The roster of an election from its folder (default: the one in data/rosters)."""
    path = folder or known_folders().get(election)
    if path is None:
        raise election_not_loaded(election)
    roster = roster_from_folder(path)
    if roster.election_id != election:
        raise election_not_loaded(election)
    return roster
