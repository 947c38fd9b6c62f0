"""Checks of a review decision: the reviewer may decide, and the election, TPS and contest exist."""

from __future__ import annotations

from services.validator.rules import RULES
from shared.events import ReviewDecided, Severity, Violation
from shared.policy import review_refusal
from shared.roster import ElectionRoster

# Review-only codes; the roster codes (ELECTION_UNKNOWN, ...) reuse the form rules' messages,
# who may review where is shared.policy's (the api asks it too, before answering 202).
_REVIEW_MESSAGES: dict[str, tuple[str, str]] = {
    "REVIEW_SUBMISSION_MISSING": (
        "Keputusan accept_version tanpa submission_id",
        "An accept_version decision without a submission_id",
    ),
}


def _review_violation(code: str, field: str, **values: object) -> Violation:
    pesan, message = _REVIEW_MESSAGES[code]
    return Violation(
        code=code,
        severity=Severity.ERROR,
        pesan=pesan.format(**values),
        message=message.format(**values),
        field=field,
    )


def _rule_violation(code: str, field: str, **values: object) -> Violation:
    spec = RULES[code]
    return Violation(
        code=code,
        severity=Severity.ERROR,
        pesan=spec.pesan.format(**values),
        message=spec.message.format(**values),
        field=field,
    )


def check_review(decision: ReviewDecided, roster: ElectionRoster | None) -> list[Violation]:
    """Every reason to refuse a review decision; empty when it may be forwarded."""
    out: list[Violation] = []
    refused = review_refusal(decision.reviewer, decision.tps)
    if refused is not None:
        out.append(refused.violation())
    if roster is None or roster.election_id != decision.election:
        out.append(_rule_violation("ELECTION_UNKNOWN", "election", election=decision.election))
    else:
        if decision.tps not in roster.tps:
            out.append(
                _rule_violation("TPS_UNKNOWN", "tps", tps=decision.tps, election=decision.election)
            )
        if decision.contest not in roster.contests:
            out.append(
                _rule_violation(
                    "CONTEST_UNKNOWN",
                    "contest",
                    contest=decision.contest.value,
                    election=decision.election,
                )
            )
    if decision.action == "accept_version" and decision.submission_id is None:
        out.append(_review_violation("REVIEW_SUBMISSION_MISSING", "submission_id"))
    return out
