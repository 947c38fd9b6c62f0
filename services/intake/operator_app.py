"""What the operator app reads: its roster slice with the validator's checks, and the states.

Pure functions over the rows of repository.fetch_app_roster / fetch_app_status. The checks come
from services.validator.relations (the validator's own rules as data), so the app never holds a
copy of the rule list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from services.validator.relations import boxes_for, checks_for, context_of
from services.validator.rules import RULES
from shared.events import OperatorRef
from shared.form import PARTY_LIST_CONTESTS, Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

# Contests in the order of the ballots (shared.form.Contest): PPWP, DPR, DPD, DPRD ...
_BALLOT_ORDER = {contest.value: i for i, contest in enumerate(Contest)}


class Row(Protocol):
    """A database row (asyncpg.Record) read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


# The per-contest state the app shows for what the pipeline recorded (submissions.status).
STATE_OF_STATUS = {
    "received": "sent",
    "accepted": "accepted",
    "duplicate": "accepted",
    "revision": "accepted",
    "rejected": "rejected",
    "conflict": "conflict",
    "superseded": "superseded",
}


def setup_body(
    operator: OperatorRef, rows: Mapping[str, Sequence[Row]], roster_version: int | None
) -> dict[str, Any]:
    """The roster slice of the operator's scope, with each contest's form boxes and checks."""
    parties: dict[str, list[Row]] = defaultdict(list)
    for row in rows["parties"]:
        parties[row["election"]].append(row)
    candidates: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows["candidates"]:
        candidates[row["election"], row["contest"]].append(row)
    contests: dict[str, list[Row]] = defaultdict(list)
    for row in rows["contests"]:
        contests[row["election"]].append(row)
    tps: dict[str, list[Row]] = defaultdict(list)
    for row in rows["tps"]:
        tps[row["election"]].append(row)

    elections = []
    for election in rows["elections"]:
        eid = election["id"]
        if not tps[eid]:
            continue  # nothing for this operator to send in that election
        tps_infos = [TpsInfo(r["code"], r["number"], r["dpt_l"], r["dpt_p"]) for r in tps[eid]]
        roster = ElectionRoster(
            election_id=eid,
            kind=election["kind"],
            max_dpt_per_tps=election["max_dpt_per_tps"],
            ballot_reserve_pct=election["ballot_reserve_pct"],
            tps={t.code: t for t in tps_infos},
            contests={},
        )
        elections.append(
            {
                "id": eid,
                "name": election["name"],
                "kind": election["kind"],
                "date": election["date"].isoformat(),
                "contests": [
                    _contest(row, parties[eid], candidates[eid, row["contest"]])
                    for row in sorted(contests[eid], key=lambda r: _BALLOT_ORDER[r["contest"]])
                ],
                "tps": [
                    {
                        "code": t.code,
                        "number": t.number,
                        "desa": t.desa_code,
                        "ctx": context_of(roster, t),
                    }
                    for t in tps_infos
                ],
            }
        )
    return {
        "operator": {
            "id": operator.id,
            "name": operator.name,
            "role": operator.role.value,
            "scope": list(operator.scope),
        },
        "roster_version": roster_version,
        "areas": {r["code"]: {"name": r["name"], "level": r["level"]} for r in rows["areas"]},
        "elections": elections,
        "rules": [
            {
                "code": spec.code,
                "group": spec.group,
                "severity": spec.severity.value,
                "pesan": spec.pesan,
                "message": spec.message,
            }
            for spec in RULES.values()
        ],
    }


def _contest(row: Row, parties: Sequence[Row], candidates: Sequence[Row]) -> dict[str, Any]:
    contest = Contest(row["contest"])
    people = [{"nomor": c["nomor"], "name": c["name"]} for c in candidates if c["party"] is None]
    if contest in PARTY_LIST_CONTESTS:
        # Every party of the election stands in each party-list contest (as the validator's
        # roster has it), with its candidate list where one was loaded.
        lists = {
            p["nomor"]: [
                {"nomor": c["nomor"], "name": c["name"]}
                for c in candidates
                if c["party"] == p["nomor"]
            ]
            for p in parties
        }
        info = ContestInfo(
            contest,
            parties={no: frozenset(c["nomor"] for c in people) for no, people in lists.items()},
        )
        party_list = [
            {
                "nomor": p["nomor"],
                "short_name": p["short_name"],
                "name": p["name"],
                "candidates": lists[p["nomor"]],
            }
            for p in parties
        ]
    else:
        info = ContestInfo(contest, candidates=frozenset(c["nomor"] for c in people))
        party_list = []
    return {
        "contest": contest.value,
        "name": row["name"],
        "party_list": contest.is_party_list,
        "candidates": people,
        "parties": party_list,
        "boxes": boxes_for(info),
        "checks": checks_for(info),
    }


def status_body(election: str, rows: Mapping[str, Sequence[Row]]) -> dict[str, Any]:
    """What became of the newest form per contest and TPS, and the progress of the scope."""
    return {
        "election": election,
        "latest": [
            {
                "submission_id": str(r["submission_id"]),
                "contest": r["contest"],
                "tps": r["tps"],
                "status": r["status"],
                "state": STATE_OF_STATUS.get(r["status"], r["status"]),
                "operator_id": r["operator_id"],
                "received_at": r["received_at"].isoformat(),
                "violations": list(r["violations"]) if isinstance(r["violations"], list) else [],
            }
            for r in rows["latest"]
        ],
        "progress": [
            {
                "contest": r["contest"],
                "area": r["area_code"],
                "reported": r["reported"],
                "total": r["total"],
            }
            for r in rows["progress"]
        ],
    }
