"""Who may do what: submit a TPS's result, decide a review, see a submission. Pure, no I/O.

The intake, the validator, the aggregator and the api all ask these functions, so a role or a
scope rule changed here holds everywhere: a form or a review the front door accepts is not
refused downstream for a reason the front door did not check.

Scope: an area code covers itself and every code below it on a dot boundary (`16.07.01` covers
`16.07.01.1016.001`, not `16.07.010`). An admin with an empty scope covers everywhere; an admin
with a scope is held to it like anyone else; anyone else with an empty scope covers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import OperatorRef, Role, Severity, Violation

SUBMIT_ROLES = frozenset({Role.OPERATOR, Role.CAMAT, Role.ADMIN})
# A camat or admin decides reviews, and may revise a TPS result another operator sent.
REVIEW_ROLES = frozenset({Role.CAMAT, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why something is not allowed: stable code, Indonesian and English text, the field."""

    code: str
    pesan: str
    message: str
    field: str

    def violation(self) -> Violation:
        """The refusal as the validator reports it (an error: the form or review is rejected)."""
        return Violation(
            code=self.code,
            severity=Severity.ERROR,
            pesan=self.pesan,
            message=self.message,
            field=self.field,
        )


@dataclass(frozen=True, slots=True)
class RefusalText:
    """A refusal's code and templates (str.format fields); docs/RULES.md shows them."""

    code: str
    pesan: str
    message: str
    field: str

    def refusal(self, **values: object) -> Refusal:
        """The refusal with the templates filled in."""
        return Refusal(
            self.code, self.pesan.format(**values), self.message.format(**values), self.field
        )


ROLE_CANNOT_SUBMIT = RefusalText(
    "ROLE_CANNOT_SUBMIT",
    "Peran {role} tidak boleh mengirim hasil TPS",
    "Role {role} may not submit TPS results",
    "operator.role",
)
SCOPE_OUTSIDE = RefusalText(
    "SCOPE_OUTSIDE",
    "TPS {tps} di luar wilayah tugas Anda ({scope})",
    "TPS {tps} is outside your assigned area ({scope})",
    "tps",
)
REVIEW_ROLE = RefusalText(
    "REVIEW_ROLE",
    "Peran {role} tidak boleh memutuskan tinjauan (hanya camat atau admin)",
    "Role {role} may not decide a review (camat or admin only)",
    "reviewer.role",
)
REVIEW_SCOPE_OUTSIDE = RefusalText(
    "REVIEW_SCOPE_OUTSIDE",
    "TPS {tps} di luar wilayah tugas peninjau ({scope})",
    "TPS {tps} is outside the reviewer's assigned area ({scope})",
    "tps",
)


def covers(scope: tuple[str, ...], role: Role, area_code: str) -> bool:
    """True when an operator's area scope includes the area (admin with no scope: everywhere)."""
    if role is Role.ADMIN and not scope:
        return True
    return any(area_code == s or area_code.startswith(s + ".") for s in scope)


def _scope_text(scope: tuple[str, ...]) -> str:
    return ", ".join(scope) or "-"


def may_submit(role: Role, scope: tuple[str, ...], tps: str) -> bool:
    """True when this role and scope may send this TPS's result (hashable arguments: memoisable)."""
    return role in SUBMIT_ROLES and covers(scope, role, tps)


def _role_refusal(person: OperatorRef, roles: frozenset[Role], text: RefusalText) -> Refusal | None:
    return None if person.role in roles else text.refusal(role=person.role.value)


def _place_refusal(
    person: OperatorRef, tps: str, roles: frozenset[Role], role: RefusalText, place: RefusalText
) -> Refusal | None:
    """Role first, then whether the scope covers the TPS."""
    refused = _role_refusal(person, roles, role)
    if refused is None and not covers(person.scope, person.role, tps):
        return place.refusal(tps=tps, scope=_scope_text(person.scope))
    return refused


def submit_role_refusal(operator: OperatorRef) -> Refusal | None:
    """Why this operator may send no result at all (a viewer), or None."""
    return _role_refusal(operator, SUBMIT_ROLES, ROLE_CANNOT_SUBMIT)


def submit_refusal(operator: OperatorRef, tps: str) -> Refusal | None:
    """Why this operator may not send this TPS's result (role first, then scope), or None."""
    return _place_refusal(operator, tps, SUBMIT_ROLES, ROLE_CANNOT_SUBMIT, SCOPE_OUTSIDE)


def may_review(role: Role) -> bool:
    """True when the role may decide reviews at all (its scope decides where)."""
    return role in REVIEW_ROLES


def review_role_refusal(reviewer: OperatorRef) -> Refusal | None:
    """Why this reviewer may decide no review at all, or None."""
    return _role_refusal(reviewer, REVIEW_ROLES, REVIEW_ROLE)


def review_refusal(reviewer: OperatorRef, tps: str) -> Refusal | None:
    """Why this reviewer may not decide on this TPS (role first, then scope), or None."""
    return _place_refusal(reviewer, tps, REVIEW_ROLES, REVIEW_ROLE, REVIEW_SCOPE_OUTSIDE)


def may_see_submission(reader: OperatorRef, sender_id: str, tps: str) -> bool:
    """Operators see their own submissions; a camat or admin also those inside their scope."""
    return sender_id == reader.id or (
        may_review(reader.role) and covers(reader.scope, reader.role, tps)
    )
