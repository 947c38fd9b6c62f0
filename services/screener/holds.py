"""Which TPS a screening pass holds: pure, so the same results always ask for the same holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from services.screener.screens import Action, Finding
from shared.events import OperatorRef, ReviewDecided, Role
from shared.form import Contest

# The screener decides holds as an admin with no scope (every TPS); releases and rejections
# are for a camat or admin (services/api).
SCREENER = OperatorRef(id="screener", role=Role.ADMIN, name="Penyaring otomatis")
HOLD_NAMESPACE = uuid.UUID("3f1c9a52-7b1e-4c1a-9e58-5d0b8a6c2e11")


def hold_decisions(
    election: str,
    findings: Iterable[Finding],
    state: Mapping[tuple[str, str], tuple[uuid.UUID, str]],
    now: datetime,
) -> list[ReviewDecided]:
    """A hold decision for each TPS result a 'hold' finding names that is in the totals.

    The decision id is derived from the election, contest, TPS, screen code and the counted
    submission, so a result a reviewer released is not held again for the same form (the
    aggregator applies a decision id once), a replay sends nothing new, and a revised form
    that still trips the screen is held again.
    """
    out: dict[uuid.UUID, ReviewDecided] = {}
    for f in findings:
        if f.action is not Action.HOLD or f.tps.count(".") != 4:
            continue
        counted = state.get((f.contest, f.tps))
        if counted is None or counted[1] != "":
            continue
        submission_id = counted[0]
        decision_id = uuid.uuid5(
            HOLD_NAMESPACE, f"{election}/{f.contest}/{f.tps}/{f.code}/{submission_id}"
        )
        out.setdefault(
            decision_id,
            ReviewDecided(
                decision_id=decision_id,
                decided_at=now,
                reviewer=SCREENER,
                election=election,
                contest=Contest(f.contest),
                tps=f.tps,
                action="hold",
                note=f"{f.code}: {f.pesan}"[:1000],
            ),
        )
    return list(out.values())
