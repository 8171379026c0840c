"""Billing periods, the proration rule, and splitting a period at change dates.

A `Period` is a half-open range `[start, end)` of *local calendar dates* in the contract's
time zone. Its exact instants (`start_utc`, `end_utc`) are the first instants of those
local days, in UTC; across a daylight-saving change they are not a multiple of 24 hours
apart (America/New_York's March has 743 hours, its November 721).

Proration is by whole local days, never by seconds: `proration_share` is the one rule.
A day is the unit a contract is written in ("from March 10"), and a customer billed for
10 of March's 31 days must pay 10/31 whether or not one of those days had 23 or 25 hours
because the clocks moved. Counting seconds would make the same days cost different
amounts in different time zones and make the pieces of a split period depend on where
the DST hour fell. Dates are also exact: shares are `Fraction`s, so the shares of the
pieces of a period sum to exactly its own share (exactly 1 for a full period), and the
one rounding happens later, on money, to the currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

from .terms import Timing
from .validation import ScheduleError


def local_day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of local date `day` in `tz`, as an aware UTC datetime.

    Where clocks jump forward at midnight (America/Santiago, Asia/Beirut) local 00:00 does
    not exist; `fold=0` reads it with the offset from before the jump, which lands exactly
    on the instant of the jump -- the first instant the day does have.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Period:
    """Local dates `[start, end)` in `tz`; never empty.

    `nominal` is the full period of the cadence this one is a part of (a stub: the first
    period of a contract starting between two boundaries, the last one of a contract ending
    between them, or a piece cut at a phase change); `None` when this period is itself full.
    A `nominal` equal to the period itself is normalized to `None`, so equal ranges compare
    equal.
    """

    start: date
    end: date
    tz: ZoneInfo
    nominal: Period | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ScheduleError(
                field="end", message=f"must be after start {self.start}, got {self.end}"
            )
        nominal = self.nominal
        if nominal is None:
            return
        if nominal.nominal is not None:
            raise ScheduleError(field="nominal", message="must be a full period, not a stub")
        if nominal.tz != self.tz:
            raise ScheduleError(field="nominal", message="must be in the same time zone")
        if not (nominal.start <= self.start and self.end <= nominal.end):
            raise ScheduleError(
                field="nominal",
                message=f"[{nominal.start}, {nominal.end}) does not contain "
                f"[{self.start}, {self.end})",
            )
        if (nominal.start, nominal.end) == (self.start, self.end):
            object.__setattr__(self, "nominal", None)

    @property
    def full(self) -> Period:
        """The full nominal period: `nominal` for a stub, the period itself otherwise."""
        return self.nominal if self.nominal is not None else self

    @property
    def is_stub(self) -> bool:
        return self.nominal is not None

    @property
    def days(self) -> int:
        """Number of local calendar days in the period."""
        return (self.end - self.start).days

    @property
    def start_utc(self) -> datetime:
        return local_day_start_utc(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        return local_day_start_utc(self.end, self.tz)

    @property
    def duration(self) -> timedelta:
        """Elapsed time from `start_utc` to `end_utc` (DST-aware; not used to prorate)."""
        return self.end_utc - self.start_utc

    @property
    def share(self) -> Fraction:
        """This period's share of its full nominal period (1 when it is full)."""
        return proration_share(period=self.full, start=self.start, end=self.end)


def proration_share(*, period: Period, start: date, end: date) -> Fraction:
    """THE proration rule: days of `[start, end)` inside `period`, over the days of
    `period.full` (the nominal period, also when `period` is a stub).

    Guarantees a value in [0, 1], exact; days outside `period` count for nothing.
    """
    if end < start:
        raise ScheduleError(field="end", message=f"must not be before start {start}, got {end}")
    overlap = (min(end, period.end) - max(start, period.start)).days
    return Fraction(max(overlap, 0), period.full.days)


def split_period(*, period: Period, at: Iterable[date]) -> list[Period]:
    """Cut `period` at each date of `at` strictly inside it (phase changes, amendments).

    Guarantees: the pieces are in order, tile `period` with no gap or overlap, all have
    `period.full` as their nominal period, and their `share`s sum exactly to
    `period.share` (exactly 1 for a full period). Dates outside the period, on its
    boundaries, repeated or unsorted are harmless.
    """
    cuts = sorted({day for day in at if period.start < day < period.end})
    bounds = [period.start, *cuts, period.end]
    return [
        Period(start=piece_start, end=piece_end, tz=period.tz, nominal=period.full)
        for piece_start, piece_end in pairwise(bounds)
    ]


def billing_date(*, period: Period, timing: Timing) -> date:
    """The local date on which `period`'s charges are billed: in advance on its first day,
    in arrears on its end (the day after its last day, when the period is complete)."""
    match timing:
        case Timing.ADVANCE:
            return period.start
        case Timing.ARREARS:
            return period.end
    raise ScheduleError(field="timing", message=f"must be advance or arrears, got {timing!r}")
