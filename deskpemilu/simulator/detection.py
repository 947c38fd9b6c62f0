"""Detection harness: how many injected manipulations the screens find, and how many clean TPS
they flag, over many simulated days (pure: no services, no database).

One simulated day: the heterogeneous truth of one contest at every TPS of the roster
(deskpemilu.simulator.model), forms as the simulator sends them, manipulation injected in report
order (deskpemilu.simulator.manipulation), the validator's rules on every form (a manipulated
form the validator refuses is never counted, so it is caught before any screen), then every
screen over the accepted forms. A TPS counts as flagged when a finding of severity warning or
above names it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deskpemilu.simulator.manipulation import Manipulation, ManipulationRates, inject
from deskpemilu.simulator.model import contest_truth, report_times
from deskpemilu.simulator.plan import true_form
from services.screener.screens import (
    Finding,
    ScreenConfig,
    TpsResult,
    flagged_tps,
    result_of_form,
    screen_all,
)
from services.validator.rules import check_form, has_errors
from shared.form import CHasil, Contest
from shared.roster import ElectionRoster

HARNESS_RATE = 0.01  # per kind and TPS: 5% of TPS manipulated, about 25 of each kind a day


@dataclass
class KindScore:
    """Tallies of one manipulation kind over the days measured."""

    injected: int = 0
    rejected: int = 0  # refused by the validator: never counted
    flagged: int = 0  # accepted and flagged by a screen
    codes: Counter[str] = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        """Manipulated forms that reached the totals."""
        return self.injected - self.rejected

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form with the two recalls."""
        return {
            "injected": self.injected,
            "rejected_by_validator": self.rejected,
            "accepted": self.accepted,
            "flagged": self.flagged,
            "recall": _ratio(self.flagged, self.accepted),
            "caught": _ratio(self.flagged + self.rejected, self.injected),
            "codes": dict(self.codes.most_common()),
        }


@dataclass
class AccuracyReport:
    """Per kind recall and the false-positive rate over clean TPS."""

    election: str
    contest: str
    days: int
    rate: float
    kinds: dict[Manipulation, KindScore] = field(default_factory=dict)
    clean: int = 0
    clean_flagged: int = 0
    clean_rejected: int = 0
    fp_codes: Counter[str] = field(default_factory=Counter)

    @property
    def false_positive_rate(self) -> float:
        """Share of clean (never manipulated) TPS flagged by a screen."""
        return _ratio(self.clean_flagged, self.clean)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "election": self.election,
            "contest": self.contest,
            "days": self.days,
            "rate_per_kind": self.rate,
            "kinds": {k.value: s.as_dict() for k, s in self.kinds.items()},
            "clean": {
                "tps": self.clean,
                "flagged": self.clean_flagged,
                "rejected_by_validator": self.clean_rejected,
                "false_positive_rate": self.false_positive_rate,
                "codes": dict(self.fp_codes.most_common()),
            },
        }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def day_forms(
    roster: ElectionRoster, contest: Contest, seed: int
) -> tuple[dict[str, CHasil], dict[str, float]]:
    """The true forms of one contest at every TPS for one simulated day, and their report times."""
    truth = contest_truth(roster, contest, seed)
    times = report_times(roster, [contest], seed)[contest]
    rng = random.Random(seed)
    info = roster.contests[contest]
    forms = {
        code: true_form(
            roster.election_id,
            info,
            roster.tps[code],
            rng,
            reserve_pct=roster.ballot_reserve_pct,
            result=truth.result(code),
        )
        for code in truth.tps
    }
    return forms, times


def screen_day(
    roster: ElectionRoster,
    forms: dict[str, CHasil],
    times: dict[str, float],
    cfg: ScreenConfig | None = None,
) -> tuple[list[Finding], set[str]]:
    """Validator then screens over one day's sent forms: (findings, TPS refused by validator)."""
    rejected: set[str] = set()
    results: list[TpsResult] = []
    for code, form in forms.items():
        if has_errors(check_form(form, roster)):
            rejected.add(code)
            continue
        tps = roster.tps[code]
        results.append(
            result_of_form(
                form,
                tps.dpt,
                operator=f"op-{tps.kecamatan_code}",
                received_at=times[code],
            )
        )
    return screen_all(results, cfg), rejected


def measure(
    roster: ElectionRoster,
    *,
    contest: Contest = Contest.PPWP,
    days: int = 10,
    seed: int = 1,
    rate: float = HARNESS_RATE,
    cfg: ScreenConfig | None = None,
) -> AccuracyReport:
    """Run `days` simulated days and tally recall per kind and false positives."""
    report = AccuracyReport(roster.election_id, str(contest), days, rate)
    report.kinds = {k: KindScore() for k in Manipulation}
    rates = ManipulationRates.uniform(rate)
    for day in range(days):
        day_seed = seed * 100_003 + day
        forms, times = day_forms(roster, contest, day_seed)
        order = sorted(forms, key=lambda c: (times[c], c))
        dpt = {c: roster.tps[c].dpt for c in forms}
        sent, injected = inject(forms, dpt, order, rates, random.Random(day_seed))
        findings, rejected = screen_day(roster, sent, times, cfg)
        flagged = flagged_tps(findings)
        codes_by_tps: dict[str, set[str]] = {}
        for f in findings:
            if f.tps in flagged and f.severity.rank >= 1:
                codes_by_tps.setdefault(f.tps, set()).add(f.code)
        manipulated = {i.tps for i in injected}
        for i in injected:
            score = report.kinds[i.kind]
            score.injected += 1
            if i.tps in rejected:
                score.rejected += 1
            elif i.tps in flagged:
                score.flagged += 1
                score.codes.update(codes_by_tps.get(i.tps, set()))
        for code in forms:
            if code in manipulated:
                continue
            report.clean += 1
            if code in rejected:
                report.clean_rejected += 1
            elif code in flagged:
                report.clean_flagged += 1
                report.fp_codes.update(codes_by_tps.get(code, set()))
    return report
