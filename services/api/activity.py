"""The operators' activity report (allowance and internet credit): pure, no I/O.

From every submission under an area (rejected ones too) and the roster's operators:

- **sent**: the (TPS, contest) pairs and TPS with at least one submission that was not rejected;
- **first / last send**: the earliest and latest submission of any status;
- **by deadline**: pairs whose first non-rejected submission came at or before the deadline;
  the share is that count over the pairs sent (0 when nothing was sent);
- **channels**: every channel the operator used; **rejections**: submissions rejected;
  **corrections**: submissions that revised the operator's own earlier result (status revision);
- **incidents**: incident reports, when the incidents table exists (None otherwise).

Every field operator of the roster in the area is listed, silent ones with zeros, so the
report is also the list of who did not work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Sent:
    """One submission as the report reads it."""

    operator_id: str
    contest: str
    tps: str
    channel: str
    status: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """A roster operator."""

    id: str
    name: str
    role: str
    scope: tuple[str, ...]
    phone: str | None


@dataclass
class OperatorActivity:
    """One line of the report."""

    operator_id: str
    name: str
    role: str
    scope: tuple[str, ...]
    phone: str | None
    tps_sent: int = 0
    pairs_sent: int = 0
    contests: list[str] = field(default_factory=list)
    submissions: int = 0
    first_send: datetime | None = None
    last_send: datetime | None = None
    sent_by_deadline: int = 0
    share_by_deadline: float = 0.0
    channels: list[str] = field(default_factory=list)
    rejections: int = 0
    corrections: int = 0
    incidents: int | None = None


def _in_area(scope: Iterable[str], area: str) -> bool:
    """The operator works in the area: one of their scope codes is the area, above or below it."""
    return any(s == area or s.startswith(area + ".") or area.startswith(s + ".") for s in scope)


def _line_for(
    lines: dict[str, OperatorActivity], known: Mapping[str, OperatorRow], operator_id: str
) -> OperatorActivity:
    line = lines.get(operator_id)
    if line is None:
        row = known.get(operator_id)
        line = lines[operator_id] = (
            OperatorActivity(row.id, row.name, row.role, row.scope, row.phone)
            if row is not None
            else OperatorActivity(operator_id, "", "", (), None)
        )
    return line


def _first_send_per_pair(sent: Iterable[Sent]) -> dict[str, dict[tuple[str, str], datetime]]:
    """operator -> (TPS, contest) -> their earliest submission of it that was not rejected."""
    first: dict[str, dict[tuple[str, str], datetime]] = {}
    for s in sent:
        if s.status == "rejected":
            continue
        pairs = first.setdefault(s.operator_id, {})
        key = (s.tps, s.contest)
        if key not in pairs or s.received_at < pairs[key]:
            pairs[key] = s.received_at
    return first


def activity_report(
    sent: Iterable[Sent],
    operators: Iterable[OperatorRow],
    *,
    area: str,
    deadline: datetime,
    incidents: Mapping[str, int] | None = None,
    field_roles: frozenset[str] = frozenset({"operator"}),
) -> list[OperatorActivity]:
    """One line per operator: every field operator working in ``area`` and every sender.

    ``sent`` holds the submissions for TPS under ``area`` only. Sorted by operator id.
    """
    sent = list(sent)
    lines: dict[str, OperatorActivity] = {}
    known: dict[str, OperatorRow] = {}
    for op in operators:
        known[op.id] = op
        if op.role in field_roles and _in_area(op.scope, area):
            lines[op.id] = OperatorActivity(op.id, op.name, op.role, op.scope, op.phone)
    channels: dict[str, set[str]] = {}
    for s in sent:
        line = _line_for(lines, known, s.operator_id)
        line.submissions += 1
        line.first_send = min(line.first_send or s.received_at, s.received_at)
        line.last_send = max(line.last_send or s.received_at, s.received_at)
        channels.setdefault(s.operator_id, set()).add(s.channel)
        line.rejections += s.status == "rejected"
        line.corrections += s.status == "revision"
    first = _first_send_per_pair(sent)
    for op_id, line in lines.items():
        pairs = first.get(op_id, {})
        line.pairs_sent = len(pairs)
        line.tps_sent = len({tps for tps, _ in pairs})
        line.sent_by_deadline = sum(1 for at in pairs.values() if at <= deadline)
        line.share_by_deadline = line.sent_by_deadline / line.pairs_sent if pairs else 0.0
        line.contests = sorted({contest for _, contest in pairs})
        line.channels = sorted(channels.get(op_id, ()))
        if incidents is not None:
            line.incidents = incidents.get(op_id, 0)
    return [lines[k] for k in sorted(lines)]
