"""Whether quarantined (held) votes could change who leads. Pure, no I/O.

The api shows it on the quarantine page; the screener's desk alert rule raises an alert on it.
"""

from __future__ import annotations

from typing import Any


def leader(lines: dict[str, int]) -> str | None:
    """The line with the most votes (lowest line on a tie); None without votes."""
    if not lines or max(lines.values()) <= 0:
        return None
    return max(sorted(lines, key=lambda k: int(k[1:])), key=lambda k: lines[k])


def quarantine_risk(counted: dict[str, int], held: dict[str, int]) -> dict[str, Any]:
    """Whether the held votes could change who leads: released as they are, or at worst.

    `if_released` is the leader with the held votes counted as sent; `could_change` is true
    when the held valid votes are at least the margin between the first two lines, so that
    held votes all for the runner-up would change the leader (Tally-Ho issue 246).
    """
    now = leader(counted)
    merged = {k: counted.get(k, 0) + held.get(k, 0) for k in set(counted) | set(held)}
    ordered = sorted(counted.values(), reverse=True)
    margin = ordered[0] - ordered[1] if len(ordered) > 1 else ordered[0] if ordered else 0
    held_total = sum(held.values())
    return {
        "leader": now,
        "leader_if_released": leader(merged),
        "margin": margin,
        "held_votes": held_total,
        "could_change": held_total > 0 and held_total >= margin,
    }
