"""Ground truth of a simulated day: the totals every area must show, from the plan alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from deskpemilu.simulator.plan import DayPlan
from shared.roster import ElectionRoster, ancestors_of


@dataclass
class AreaTruth:
    """Expected figures of one contest at one area."""

    votes: dict[str, int] = field(default_factory=dict)  # 'c1' / 'p3' -> votes
    suara_sah: int = 0
    suara_tidak_sah: int = 0
    tps_reported: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "votes": dict(sorted(self.votes.items())),
            "suara_sah": self.suara_sah,
            "suara_tidak_sah": self.suara_tidak_sah,
            "tps_reported": self.tps_reported,
        }


def expected_totals(plan: DayPlan, roster: ElectionRoster) -> dict[str, dict[str, AreaTruth]]:
    """contest -> area code -> expected figures, summed independently of the aggregator."""
    totals: dict[str, dict[str, AreaTruth]] = defaultdict(lambda: defaultdict(AreaTruth))
    for (contest, tps), form in plan.counted.items():
        if tps not in roster.tps:
            continue
        for area in (tps, *ancestors_of(tps)):
            truth = totals[contest][area]
            for line, votes in form.votes_by_candidate().items():
                truth.votes[line] = truth.votes.get(line, 0) + votes
            truth.suara_sah += form.suara_sah
            truth.suara_tidak_sah += form.suara_tidak_sah
            truth.tps_reported += 1
    return totals


def final_shares(plan: DayPlan, roster: ElectionRoster) -> dict[str, dict[str, float]]:
    """contest -> vote line ('c2', 'p3') -> its share of the valid votes of every counted TPS."""
    votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sah: dict[str, int] = defaultdict(int)
    for (contest, tps), form in plan.counted.items():
        if tps not in roster.tps:
            continue
        for line, n in form.votes_by_candidate().items():
            votes[contest][line] += n
        sah[contest] += form.suara_sah
    return {
        contest: {line: n / max(sah[contest], 1) for line, n in sorted(lines.items())}
        for contest, lines in sorted(votes.items())
    }


def write_truth(
    path: Path,
    plan: DayPlan,
    roster: ElectionRoster,
    manipulated: Sequence[Mapping[str, object]] = (),
) -> None:
    """Write the ground truth file: totals per area, expected outcome per send, disputes, and
    the TPS whose forms were manipulated (deskpemilu.simulator.manipulation)."""
    totals = expected_totals(plan, roster)
    payload = {
        "election": roster.election_id,
        "shares": final_shares(plan, roster),
        "totals": {
            contest: {area: t.as_dict() for area, t in sorted(areas.items())}
            for contest, areas in sorted(totals.items())
        },
        "sends": [
            {
                "key": s.idempotency_key,
                "operator": s.operator.id,
                "channel": s.channel.value,
                "contest": str(s.form.contest),
                "tps": s.form.tps,
                "expect": s.expect,
                "mistake": s.mistake.value,
            }
            for s in plan.sends
        ],
        "disputed": sorted(f"{c}/{t}" for c, t in plan.disputed),
        "manipulated": list(manipulated),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))


def expected_statuses(plan: DayPlan) -> dict[tuple[str, str], list[str]]:
    """(contest, tps) -> the submissions.status each distinct send must end with, sorted."""
    per_tps: dict[tuple[str, str], dict[str, str]] = {}
    for send in plan.sends:
        statuses = per_tps.setdefault((str(send.form.contest), send.form.tps), {})
        # A retry reuses its idempotency key: one submission, whatever the number of requests.
        statuses.setdefault(send.idempotency_key, send.expect.split(":")[0])
    result: dict[tuple[str, str], list[str]] = {}
    for key, statuses in per_tps.items():
        revised = "revision" in statuses.values()
        result[key] = sorted(
            "superseded" if (s == "accepted" and revised) else s for s in statuses.values()
        )
    return result
