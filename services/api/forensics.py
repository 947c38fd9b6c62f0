"""Forensic views of an area's TPS results (advisory): the turnout x winner's-share fingerprint
and the last-digit distribution. Pure functions; the route reads the rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.quarantine import leader as leader  # re-exported: the api and the screener share it
from shared.quarantine import quarantine_risk as quarantine_risk
from shared.screens import last_digit_test

BINS = 20


@dataclass(frozen=True, slots=True)
class TpsRow:
    """What the forensics need of one TPS result."""

    votes: dict[str, int]
    voters: int
    dpt: int


def winner(rows: Iterable[TpsRow]) -> str | None:
    """The line with the most votes over the rows (lowest line on a tie)."""
    totals: dict[str, int] = {}
    for r in rows:
        for line, v in r.votes.items():
            totals[line] = totals.get(line, 0) + v
    if not totals:
        return None
    return max(sorted(totals, key=lambda k: int(k[1:])), key=lambda k: totals[k])


def _bin(x: float, bins: int) -> int:
    return min(bins - 1, max(0, int(x * bins)))


def fingerprint(rows: Sequence[TpsRow], bins: int = BINS) -> dict[str, Any]:
    """2D histogram of TPS by turnout (rows) and the area winner's share (columns), 0-100%.

    Turnout at or above 100% falls in the top bin. Ballot stuffing shows as a smear toward the
    top right corner (Klimek et al. 2012).
    """
    line = winner(rows)
    counts = [[0] * bins for _ in range(bins)]
    used = 0
    for r in rows:
        sah = sum(r.votes.values())
        if line is None or r.dpt <= 0 or sah <= 0:
            continue
        counts[_bin(r.voters / r.dpt, bins)][_bin(r.votes.get(line, 0) / sah, bins)] += 1
        used += 1
    return {"winner": line, "bins": bins, "tps": used, "counts": counts}


def last_digits(rows: Iterable[TpsRow], min_value: int = 10) -> dict[str, Any]:
    """Last digits of every vote count of at least min_value, with the chi-square p-value."""
    return last_digit_test((v for r in rows for v in r.votes.values()), min_value)
