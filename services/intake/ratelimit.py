"""Token bucket per operator, in memory: a steady rate with a burst allowance."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    """Each operator's bucket refills at `rate` tokens a second up to `burst`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_operators: int = 200_000,
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._max = max_operators
        self._buckets: dict[str, tuple[float, float]] = {}  # operator -> (tokens, at)

    def acquire(self, operator_id: str, cost: float = 1.0) -> int | None:
        """Take `cost` tokens; None when allowed, else the whole seconds to wait (Retry-After)."""
        now = self._clock()
        tokens, at = self._buckets.get(operator_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens >= cost:
            self._buckets[operator_id] = (tokens - cost, now)
            if len(self._buckets) > self._max:
                self._forget_full(now)
            return None
        self._buckets[operator_id] = (tokens, now)
        return max(1, math.ceil((min(cost, self._burst) - tokens) / self._rate))

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely says nothing a fresh one would not.
        full = [
            op
            for op, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self._rate >= self._burst
        ]
        for op in full:
            del self._buckets[op]
