"""Where period boundaries fall, and the list of a contract's billing periods.

Every boundary is computed from the anchor as "origin month + k * cadence months, on the
anchor's day (or that month's last day when it is shorter)", never by stepping from the
previous boundary: stepping would let Jan 31 -> Feb 28 drift to Mar 28 forever. Weekly
boundaries are "origin day + k * 7 days", the origin a day of the anchor's weekday
(calendar) or the start itself (anniversary).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from .periods import Period
from .terms import DAYS_PER_WEEK, Anchor, AnchorKind, Cadence
from .validation import ScheduleError, resolve_tz, validate_term


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_index(day: date) -> int:
    """Months since year 0, so month arithmetic is integer arithmetic."""
    return day.year * 12 + day.month - 1


def _day_in_month(*, month_index: int, day: int) -> date:
    """`day` of the month at `month_index`, clamped to that month's last day."""
    year, month0 = divmod(month_index, 12)
    return date(year, month0 + 1, min(day, days_in_month(year, month0 + 1)))


@dataclass(frozen=True, kw_only=True)
class BoundaryGrid:
    """Boundary k is `day` of month `origin + k * step` (clamped); k may be negative."""

    origin: int
    day: int
    step: int

    def boundary(self, k: int) -> date:
        return _day_in_month(month_index=self.origin + k * self.step, day=self.day)

    def index_at_or_before(self, day: date) -> int:
        """The largest k whose boundary is on or before `day`."""
        k = (_month_index(day) - self.origin) // self.step
        # Boundary k lies in `day`'s month or earlier; only its day can overshoot.
        return k - 1 if self.boundary(k) > day else k


@dataclass(frozen=True, kw_only=True)
class WeekGrid:
    """Boundary k is `origin + k * days` (k may be negative): weeks of local days, so a
    daylight-saving change never moves a boundary."""

    origin: date
    days: int

    def boundary(self, k: int) -> date:
        return self.origin + timedelta(days=k * self.days)

    def index_at_or_before(self, day: date) -> int:
        return (day - self.origin).days // self.days


class Grid(Protocol):
    def boundary(self, k: int) -> date: ...

    def index_at_or_before(self, day: date) -> int: ...


def week_grid(*, anchor: Anchor, start: date, weeks: int) -> WeekGrid:
    """The boundaries of a contract starting on `start`, every `weeks` weeks.

    - calendar: the anchor's weekday (Monday unless chosen): a contract starting on a
      Wednesday with weeks from Monday begins with a stub of Wednesday to Sunday;
    - anniversary: the start's own weekday (no stub);
    - day_of_month: refused, a day of the month is no place in a week.
    """
    match anchor.kind:
        case AnchorKind.CALENDAR:
            back = (start.weekday() - anchor.first_weekday) % DAYS_PER_WEEK
            return WeekGrid(origin=start - timedelta(days=back), days=weeks * DAYS_PER_WEEK)
        case AnchorKind.ANNIVERSARY:
            return WeekGrid(origin=start, days=weeks * DAYS_PER_WEEK)
    raise ScheduleError(
        field="anchor.kind",
        message="weekly periods start on a weekday (calendar) or on the start date "
                f"(anniversary), not on a {anchor.kind}",
    )


def boundary_grid(*, anchor: Anchor, start: date, months: int) -> BoundaryGrid:
    """The boundaries of a contract starting on `start`, every `months` months.

    - calendar: the 1st of the month, counted from January of the start's year (calendar
      months, quarters, halves and years; every-N-months counts on from that January);
    - anniversary: the start's day, counted from the start's month (no stub);
    - day_of_month: the chosen day, counted from its first occurrence on or after the
      start, so the first full period begins there and anything before it is a stub.
    """
    match anchor.kind:
        case AnchorKind.CALENDAR:
            return BoundaryGrid(origin=start.year * 12, day=1, step=months)
        case AnchorKind.ANNIVERSARY:
            return BoundaryGrid(origin=_month_index(start), day=start.day, step=months)
        case AnchorKind.DAY_OF_MONTH:
            assert anchor.day is not None  # guaranteed by Anchor's validation
            origin = _month_index(start)
            if _day_in_month(month_index=origin, day=anchor.day) < start:
                origin += 1
            return BoundaryGrid(origin=origin, day=anchor.day, step=months)
    raise ScheduleError(field="anchor.kind", message=f"unknown anchor kind {anchor.kind!r}")


def one_time_period(*, start: date, end: date | None, tz: ZoneInfo) -> Period:
    """The single period of a one-time charge: the whole term `[start, end)`.

    An evergreen term has no end to cover, so its one-time period is its first day; that
    keeps advance billing on `start` (arrears is refused where the term is evergreen).
    """
    return Period(start=start, end=end if end is not None else start + timedelta(days=1), tz=tz)


def billing_periods(
    *,
    start: date,
    end: date | None,
    cadence: Cadence,
    anchor: Anchor,
    tz: str | ZoneInfo,
    through: date | None = None,
) -> list[Period]:
    """The billing periods of the term `[start, end)` that begin on or before `through`.

    Guarantees: periods are consecutive (each ends where the next begins), the first begins
    on `start`, the last ends on `end` if it is reached; a first period that begins after
    its boundary and a last one cut by `end` are stubs whose `nominal` is the full period.
    `through=None` means up to the end; an evergreen term (`end=None`) needs `through`.
    A one-time cadence gives the single period of `one_time_period`.
    """
    zone = resolve_tz(tz)
    validate_term(start=start, end=end)
    if end is None and through is None:
        raise ScheduleError(field="through", message="is required for an evergreen contract")
    if through is not None and through < start:
        return []
    grid: Grid
    if cadence.weeks is not None:
        grid = week_grid(anchor=anchor, start=start, weeks=cadence.weeks)
    elif cadence.months is not None:
        grid = boundary_grid(anchor=anchor, start=start, months=cadence.months)
    else:
        return [one_time_period(start=start, end=end, tz=zone)]
    periods: list[Period] = []
    k = grid.index_at_or_before(start)
    while True:
        nominal_start, nominal_end = grid.boundary(k), grid.boundary(k + 1)
        period_start = max(start, nominal_start)
        if (end is not None and period_start >= end) or (
            through is not None and period_start > through
        ):
            return periods
        period_end = nominal_end if end is None else min(end, nominal_end)
        nominal = Period(start=nominal_start, end=nominal_end, tz=zone)
        periods.append(Period(start=period_start, end=period_end, tz=zone, nominal=nominal))
        k += 1
