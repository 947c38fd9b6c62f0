"""Every role x scope x area: the front doors (intake, api) and the validator decide alike.

A form or a review the intake or the api answers 202 must not be rejected by the validator for
who sent it, and one refused at the door is refused with the code the validator would give.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import State

from services.api.deps import current_reviewer
from services.api.errors import ApiError
from services.api.routes_review import review_forbidden
from services.intake.deps import may_submit
from services.intake.ratelimit import RateLimiter
from services.intake.schemas import IntakeError
from services.intake.submissions import scope_error
from services.validator.reviews import check_review
from services.validator.rules import check_scope
from shared.auth import Claims
from shared.errors import BilingualError
from shared.events import OperatorRef, ReviewDecided, Role
from shared.form import Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

ELECTION = "pemilu-2024"
SCOPES: tuple[tuple[str, ...], ...] = (
    (),
    ("16",),
    ("16.07",),
    ("16.07.01",),
    ("16.07.02",),
    ("16.07.01", "16.07.02"),
    ("16.07.01.1016",),
    ("16.07.0",),  # not a dot boundary: covers nothing below
    ("16.07.01.1016.001",),
)
TPS_CODES = (
    "16.07.01.1016.001",
    "16.07.01.1016.002",
    "16.07.01.1017.001",
    "16.07.02.2001.001",
    "16.08.01.1001.001",
)
CASES = list(itertools.product(Role, SCOPES, TPS_CODES))
ROSTER = ElectionRoster(
    election_id=ELECTION,
    kind="pemilu",
    max_dpt_per_tps=300,
    ballot_reserve_pct=2.0,
    tps={code: TpsInfo(code, 1, 140, 135) for code in TPS_CODES},
    contests={Contest.PPWP: ContestInfo(Contest.PPWP, candidates=frozenset({1, 2}))},
)
# The validator's review codes about the reviewer (the rest are about the roster and the body).
REVIEWER_CODES = {"REVIEW_ROLE", "REVIEW_SCOPE_OUTSIDE"}


def _operator(role: Role, scope: tuple[str, ...]) -> OperatorRef:
    return OperatorRef(id=f"{role.value}-{'+'.join(scope) or 'none'}", role=role, scope=scope)


def _code(refused: BilingualError | None) -> str | None:
    """The code of a door's refusal (403, in both languages), None when it lets through."""
    if refused is None:
        return None
    assert refused.status == 403 and refused.pesan and refused.message
    assert refused.pesan != refused.message
    return refused.code


async def _api_review_code(reviewer: OperatorRef, tps: str) -> str | None:
    """What the api answers before publishing: the route's dependency, then its area check."""
    claims = Claims(reviewer, uuid.uuid4(), datetime.now(UTC) + timedelta(hours=1))
    try:
        checked = await current_reviewer(claims)
    except ApiError as exc:
        return _code(exc)
    return _code(review_forbidden(checked, tps))


def _validator_review_codes(reviewer: OperatorRef, tps: str) -> set[str]:
    decision = ReviewDecided(
        decision_id=uuid.uuid4(),
        decided_at=datetime.now(UTC),
        reviewer=reviewer,
        election=ELECTION,
        contest=Contest.PPWP,
        tps=tps,
        action="verify",
    )
    violations = check_review(decision, ROSTER)
    # Everything else about this decision is valid: only the reviewer can be refused.
    assert {v.code for v in violations} <= REVIEWER_CODES, violations
    return {v.code for v in violations}


@pytest.mark.parametrize(("role", "scope", "tps"), CASES)
async def test_api_and_validator_agree_on_reviews(
    role: Role, scope: tuple[str, ...], tps: str
) -> None:
    reviewer = _operator(role, scope)
    api_code = await _api_review_code(reviewer, tps)
    validator_codes = _validator_review_codes(reviewer, tps)
    assert validator_codes == ({api_code} if api_code else set())


def _intake_submit_code(operator: OperatorRef, tps: str) -> str | None:
    """What the intake answers: the route's role check, then the per-form scope check."""
    state = State({"limiter": RateLimiter(rate_per_s=1000.0, burst=1000)})
    try:
        may_submit(state, operator)
    except IntakeError as exc:
        return _code(exc)
    return _code(scope_error(operator, tps))


@pytest.mark.parametrize(("role", "scope", "tps"), CASES)
def test_intake_and_validator_agree_on_submissions(
    role: Role, scope: tuple[str, ...], tps: str
) -> None:
    operator = _operator(role, scope)
    intake_code = _intake_submit_code(operator, tps)
    validator_codes = [v.code for v in check_scope(operator, tps)]
    assert validator_codes == ([intake_code] if intake_code else [])


def test_the_cases_hold_both_answers() -> None:
    """The grid is not vacuous: it holds allowed and refused cases of each kind."""
    reviews = {frozenset(_validator_review_codes(_operator(r, s), t)) for r, s, t in CASES}
    submits = {tuple(v.code for v in check_scope(_operator(r, s), t)) for r, s, t in CASES}
    assert reviews == {frozenset(), frozenset({"REVIEW_ROLE"}), frozenset({"REVIEW_SCOPE_OUTSIDE"})}
    assert submits == {(), ("ROLE_CANNOT_SUBMIT",), ("SCOPE_OUTSIDE",)}
    # The admin cases that used to differ: scoped admins outside their scope are refused.
    assert _validator_review_codes(_operator(Role.ADMIN, ("16.07.02",)), TPS_CODES[0]) == {
        "REVIEW_SCOPE_OUTSIDE"
    }
