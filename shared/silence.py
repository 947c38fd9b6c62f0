"""Silent TPS and stalled areas: progress, what is missing, whether an area has stopped moving.

Pure, no I/O. The api (the silent-TPS view, reminders) and the desk alerts ("a kecamatan
stalled") both decide with these functions, so the dashboard's mark and the alert agree.

Terms:

- an area's **expected** count is how many TPS (or TPS x contest pairs) should report; its
  **received** count how many have a counted result; **progress** is received / expected;
- an area is **complete** when received >= expected (an area expecting nothing is complete);
- an area is **stalled** when it is not complete and its progress has not moved for at least
  ``StallPolicy.threshold`` of *counting time*: only the time inside the configured counting
  hours counts (a quiet night does not make every kecamatan stalled at 07:00). The clock starts
  at the area's last progress, or, when nothing was ever received, at the start of the counting
  window the current instant falls in (or last fell in).

All instants are timezone-aware datetimes; counting hours are wall-clock times in a fixed UTC
offset (Banyuasin is WIB, UTC+7). A window whose end is at or before its start runs past
midnight (``13:00``-``02:00``); ``start == end`` means counting all day.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TypeVar

T = TypeVar("T", bound=Hashable)
K = TypeVar("K", bound=Hashable)

WIB = timezone(timedelta(hours=7), "WIB")
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CountingHours:
    """The daily wall-clock window in which counting happens, in a fixed offset (default WIB)."""

    start: time = time(13, 0)
    end: time = time(0, 0)
    tz: timezone = WIB

    def windows_around(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """The counting windows (as aware instants, ascending) that may intersect [a, b]."""
        first = a.astimezone(self.tz).date() - _DAY
        last = b.astimezone(self.tz).date()
        out: list[tuple[datetime, datetime]] = []
        day: date = first
        while day <= last:
            opens = datetime.combine(day, self.start, self.tz)
            closes = datetime.combine(day, self.end, self.tz)
            if closes <= opens:
                closes += _DAY
            out.append((opens, closes))
            day += _DAY
        return out


@dataclass(frozen=True, slots=True)
class StallPolicy:
    """When an area counts as stalled: ``threshold`` of counting time without progress."""

    threshold: timedelta = timedelta(minutes=60)
    hours: CountingHours = CountingHours()

    def __post_init__(self) -> None:
        if self.threshold <= timedelta(0):
            raise ValueError("stall threshold must be positive")


@dataclass(frozen=True, slots=True)
class AreaCount:
    """What an area expects and has received, and when its received count last went up."""

    expected: int
    received: int
    last_progress_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AreaStatus:
    """An area judged at one instant."""

    expected: int
    received: int
    missing: int
    progress: float
    complete: bool
    idle: timedelta
    """Counting time since the area's last progress (or since counting opened, if none)."""
    stalled: bool


def _aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def progress(expected: int, received: int) -> float:
    """received / expected in [0, 1]; an area expecting nothing has progress 1."""
    if expected < 0 or received < 0:
        raise ValueError("counts must not be negative")
    if expected == 0:
        return 1.0
    return min(received, expected) / expected


def is_complete(expected: int, received: int) -> bool:
    """Every expected report is in."""
    return received >= expected


def not_reported(expected: Iterable[T], received: Iterable[T]) -> list[T]:
    """The expected items (TPS codes, or (TPS, contest) pairs) with no report, in expected order.

    Duplicates in ``expected`` are kept once; received items that were not expected are ignored.
    """
    got = set(received)
    seen: set[T] = set()
    out: list[T] = []
    for item in expected:
        if item not in got and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def counting_time_between(a: datetime, b: datetime, hours: CountingHours) -> timedelta:
    """How much of the interval [a, b] lies inside the counting hours (zero if b <= a).

    Additive: for a <= b <= c, f(a, c) == f(a, b) + f(b, c); never more than b - a.
    """
    _aware(a, "a")
    _aware(b, "b")
    if b <= a:
        return timedelta(0)
    if hours.start == hours.end:
        return b - a
    total = timedelta(0)
    for opens, closes in hours.windows_around(a, b):
        lo = max(a, opens)
        hi = min(b, closes)
        if hi > lo:
            total += hi - lo
    return total


def counting_opened_at(now: datetime, hours: CountingHours) -> datetime:
    """The start of the counting window ``now`` is in, or of the last one that opened before it."""
    _aware(now, "now")
    if hours.start == hours.end:
        opens = datetime.combine(now.astimezone(hours.tz).date(), hours.start, hours.tz)
        return opens if opens <= now else opens - _DAY
    opened = [o for o, _ in hours.windows_around(now, now) if o <= now]
    return opened[-1]


def in_counting_hours(moment: datetime, hours: CountingHours) -> bool:
    """``moment`` falls inside a counting window."""
    _aware(moment, "moment")
    if hours.start == hours.end:
        return True
    return any(o <= moment < c for o, c in hours.windows_around(moment, moment))


def idle_time(last_progress_at: datetime | None, now: datetime, hours: CountingHours) -> timedelta:
    """Counting time without progress: since ``last_progress_at``, or since counting opened."""
    since = last_progress_at if last_progress_at is not None else counting_opened_at(now, hours)
    return counting_time_between(since, now, hours)


def assess(area: AreaCount, now: datetime, policy: StallPolicy) -> AreaStatus:
    """Progress, what is missing and the stalled mark of one area at ``now``."""
    complete = is_complete(area.expected, area.received)
    idle = idle_time(area.last_progress_at, now, policy.hours)
    return AreaStatus(
        expected=area.expected,
        received=area.received,
        missing=max(area.expected - area.received, 0),
        progress=progress(area.expected, area.received),
        complete=complete,
        idle=idle,
        stalled=(not complete) and idle >= policy.threshold,
    )


def is_stalled(area: AreaCount, now: datetime, policy: StallPolicy) -> bool:
    """Not complete, and no progress for ``policy.threshold`` of counting time up to ``now``."""
    return assess(area, now, policy).stalled


def stalled_areas(areas: dict[K, AreaCount], now: datetime, policy: StallPolicy) -> list[K]:
    """The keys of the stalled areas, in the dict's order."""
    return [key for key, area in areas.items() if is_stalled(area, now, policy)]


def last_progress(received_at: Iterable[datetime]) -> datetime | None:
    """An area's last progress: the latest time one of its reports was recorded (None if none)."""
    latest: datetime | None = None
    for moment in received_at:
        _aware(moment, "received_at")
        if latest is None or moment > latest:
            latest = moment
    return latest


@dataclass(frozen=True, slots=True)
class Bucket:
    """One step of the received-over-time series: reports recorded in [start, start + width)."""

    start: datetime
    received: int
    cumulative: int


def bucket_start(moment: datetime, width: timedelta) -> datetime:
    """The start of the ``width`` bucket holding ``moment`` (buckets aligned on the UTC epoch)."""
    _aware(moment, "moment")
    if width <= timedelta(0):
        raise ValueError("bucket width must be positive")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = (moment - epoch) // width
    return epoch + steps * width


def received_series(
    received_at: Sequence[datetime],
    width: timedelta = timedelta(minutes=15),
    *,
    until: datetime | None = None,
    max_buckets: int | None = None,
) -> list[Bucket]:
    """Reports per ``width`` bucket, from the first report's bucket to ``until``'s (or the last).

    Every bucket in that range is present (zero when nothing came), so a chart draws flat
    stretches as flat; ``cumulative`` is the running total, ending at ``len(received_at)``
    (reports after ``until`` are left out). With ``max_buckets`` only the latest that many
    buckets are listed; the first one's ``cumulative`` still counts every earlier report.
    """
    if not received_at:
        return []
    starts = [bucket_start(m, width) for m in received_at]
    first = min(starts)
    last = max(starts) if until is None else bucket_start(until, width)
    counts: dict[datetime, int] = {}
    for s in starts:
        counts[s] = counts.get(s, 0) + 1
    if max_buckets is not None:
        if max_buckets < 1:
            raise ValueError("max_buckets must be at least 1")
        first = max(first, last - (max_buckets - 1) * width)
    out: list[Bucket] = []
    running = sum(n for start, n in counts.items() if start < first)
    at = first
    while at <= last:
        n = counts.get(at, 0)
        running += n
        out.append(Bucket(start=at.astimezone(UTC), received=n, cumulative=running))
        at += width
    return out


@dataclass(frozen=True, slots=True)
class Responsible:
    """An operator who may be answerable for TPS: id, field scope (area codes), phone."""

    id: str
    scope: tuple[str, ...]
    phone: str | None = None
    name: str = ""


def responsible_for(tps: str, operators: Iterable[Responsible]) -> list[Responsible]:
    """The operators answerable for a TPS: those whose scope holds it most closely.

    A scope code holds a TPS when it is the TPS or an area above it on a dot boundary; among
    the operators holding it, only those with the deepest (longest) such code are responsible,
    so a desa operator answers for their desa before the kecamatan's. Sorted by id.
    """
    best = -1
    chosen: list[Responsible] = []
    for op in operators:
        depth = max((len(s) for s in op.scope if tps == s or tps.startswith(s + ".")), default=-1)
        if depth < 0 or depth < best:
            continue
        if depth > best:
            best, chosen = depth, []
        chosen.append(op)
    return sorted(chosen, key=lambda o: o.id)
