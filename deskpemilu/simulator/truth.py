"""Ground truth of a simulated day: the totals every area must show, from the plan alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from deskpemilu.simulator.incidents import IncidentSend, expected_incidents
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
    incidents: Sequence[IncidentSend] = (),
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
        "silenced": sorted(f"{c}/{t}" for c, t in plan.silenced),
        "silent": expected_silent(plan, roster),
        "activity": expected_activity(plan),
        "incidents": [
            {
                "operator": i.operator.id,
                "area": i.area,
                "category": i.category.value,
                "key": i.key,
            }
            for i in incidents
        ],
        "incidents_by_operator": expected_incidents(list(incidents)),
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


def expected_silent(plan: DayPlan, roster: ElectionRoster) -> dict[str, list[str]]:
    """contest -> every roster TPS whose result of it is never counted (the silent list), sorted.

    The TPS the simulator silenced on purpose, the TPS left out by a tps_limit, and none else:
    a TPS whose first form was rejected is counted once it is resent right.
    """
    return {
        contest: sorted(code for code in roster.tps if (contest, code) not in plan.counted)
        for contest in plan.contests
    }


def expected_activity(plan: DayPlan, deadline_s: float | None = None) -> dict[str, dict[str, Any]]:
    """operator id -> what the activity report must show for them, from the plan's sends.

    One submission per (operator, idempotency key) (a retry is the same submission); a pair is
    sent when one of its submissions is not rejected; it is sent by the deadline when the first
    such submission's key was first used at or before ``deadline_s`` (deskpemilu.simulator.plan
    .split_at sends the two parts apart, so the deadline falls between them).
    """
    first: dict[tuple[str, str], float] = {}
    sends: dict[tuple[str, str], Any] = {}
    for send in plan.sends:
        key = (send.operator.id, send.idempotency_key)
        first[key] = min(first.get(key, send.at_s), send.at_s)
        sends.setdefault(key, send)
    out: dict[str, dict[str, Any]] = {}
    pair_first: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    for (operator, _), send in sends.items():
        line = out.setdefault(
            operator,
            {"submissions": 0, "rejections": 0, "corrections": 0, "channels": set()},
        )
        line["submissions"] += 1
        line["channels"].add(send.channel.value)
        if send.expect.startswith("rejected"):
            line["rejections"] += 1
            continue
        if send.expect == "revision":
            line["corrections"] += 1
        pair = (send.form.tps, str(send.form.contest))
        at = first[(operator, send.idempotency_key)]
        pairs = pair_first[operator]
        pairs[pair] = min(pairs.get(pair, at), at)
    for operator, line in out.items():
        pairs = pair_first[operator]
        line["channels"] = sorted(line["channels"])
        line["pairs_sent"] = len(pairs)
        line["tps_sent"] = len({tps for tps, _ in pairs})
        line["contests"] = sorted({contest for _, contest in pairs})
        if deadline_s is not None:
            line["sent_by_deadline"] = sum(1 for at in pairs.values() if at <= deadline_s)
    return dict(sorted(out.items()))
