"""What the screener and the api both need of the screens across TPS (services/screener/screens.py):
the finding codes, the severity scale and the last-digit test the forensics panel shows too.
Pure, no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How urgently a person should look: info < warning < critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Order of severities (0 info, 1 warning, 2 critical)."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

# Every code a screen can report, in the order the docs list them.
CODES: tuple[str, ...] = (
    "TURNOUT_OUTLIER_KECAMATAN",
    "TURNOUT_OUTLIER_DESA",
    "SHARE_OUTLIER",
    "STUFFING_PATTERN",
    "ONE_SIDED_HIGH_TURNOUT",
    "TURNOUT_FULL",
    "INVALID_SHARE_OUTLIER",
    "IDENTICAL_VOTES",
    "ROUND_NUMBERS",
    "ROUND_EXCESS_AREA",
    "REVISED_OFTEN",
    "SAME_ACROSS_CONTESTS",
    "OPERATOR_BURST",
)


def chi_square_sf(x: float, dof: int) -> float:
    """P(X >= x) for a chi-square with dof degrees of freedom (regularised upper gamma)."""
    if x <= 0:
        return 1.0
    return _gamma_q(dof / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(500):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - math.lgamma(a)))
    # continued fraction for Q (Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)


def last_digit_test(counts: Iterable[int], min_value: int = 10) -> dict[str, Any]:
    """Distribution of last digits of counts >= min_value and the chi-square p against uniform."""
    digits = [0] * 10
    for v in counts:
        if v >= min_value:
            digits[v % 10] += 1
    n = sum(digits)
    if n == 0:
        return {"digits": digits, "n": 0, "chi2": 0.0, "p_value": 1.0}
    expected = n / 10
    chi2 = sum((d - expected) ** 2 / expected for d in digits)
    return {"digits": digits, "n": n, "chi2": round(chi2, 3), "p_value": chi_square_sf(chi2, 9)}
