"""Billing periods by cadence and anchor, where they stop, and the share of a period that
is part of a full one. Every expected period and share is worked out by hand from a
calendar: a stub is written with the full period it is part of (`of=`)."""

from datetime import date
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from contracts.schedule import Anchor, Cadence, Period, billing_periods

UTC = ZoneInfo("UTC")
d = date.fromisoformat


def P(start: str, end: str, *, of: tuple[str, str] | None = None, tz: ZoneInfo = UTC) -> Period:
    """A period in `tz`; with `of`, a stub of the full period `of`."""
    nominal = None if of is None else Period(start=d(of[0]), end=d(of[1]), tz=tz)
    return Period(start=d(start), end=d(end), tz=tz, nominal=nominal)


def periods(
    *, start: str, cadence: Cadence, anchor: Anchor, through: str | None, end: str | None = None
) -> list[Period]:
    return billing_periods(
        start=d(start),
        end=None if end is None else d(end),
        cadence=cadence,
        anchor=anchor,
        tz="UTC",
        through=None if through is None else d(through),
    )


@pytest.mark.parametrize(
    ("start", "cadence", "anchor", "through", "expected"),
    [
        pytest.param(
            "2024-01-31", Cadence.monthly(), Anchor.calendar(), "2024-04-01",
            [
                P("2024-01-31", "2024-02-01", of=("2024-01-01", "2024-02-01")),
                P("2024-02-01", "2024-03-01"),
                P("2024-03-01", "2024-04-01"),
                P("2024-04-01", "2024-05-01"),
            ],
            id="monthly-calendar-from-31st",
        ),
        pytest.param(
            "2024-01-31", Cadence.monthly(), Anchor.anniversary(), "2024-05-31",
            # Clamped to Feb 29 and Apr 30, and back to the 31st whenever the month has it.
            [
                P("2024-01-31", "2024-02-29"),
                P("2024-02-29", "2024-03-31"),
                P("2024-03-31", "2024-04-30"),
                P("2024-04-30", "2024-05-31"),
                P("2024-05-31", "2024-06-30"),
            ],
            id="monthly-anniversary-from-31st",
        ),
        pytest.param(
            "2024-01-31", Cadence.quarterly(), Anchor.calendar(), "2024-10-01",
            [
                P("2024-01-31", "2024-04-01", of=("2024-01-01", "2024-04-01")),
                P("2024-04-01", "2024-07-01"),
                P("2024-07-01", "2024-10-01"),
                P("2024-10-01", "2025-01-01"),
            ],
            id="quarterly-calendar-from-31st",
        ),
        pytest.param(
            "2023-08-31", Cadence.quarterly(), Anchor.anniversary(), "2024-05-31",
            # Nov 30 and Feb 29 are clamped; May 31 is not, although Feb 29 preceded it.
            [
                P("2023-08-31", "2023-11-30"),
                P("2023-11-30", "2024-02-29"),
                P("2024-02-29", "2024-05-31"),
                P("2024-05-31", "2024-08-31"),
            ],
            id="quarterly-anniversary-from-31st",
        ),
        pytest.param(
            "2024-03-31", Cadence.semi_annual(), Anchor.calendar(), "2025-01-01",
            [
                P("2024-03-31", "2024-07-01", of=("2024-01-01", "2024-07-01")),
                P("2024-07-01", "2025-01-01"),
                P("2025-01-01", "2025-07-01"),
            ],
            id="semi-annual-calendar",
        ),
        pytest.param(
            "2024-02-29", Cadence.annual(), Anchor.calendar(), "2026-01-01",
            [
                P("2024-02-29", "2025-01-01", of=("2024-01-01", "2025-01-01")),
                P("2025-01-01", "2026-01-01"),
                P("2026-01-01", "2027-01-01"),
            ],
            id="annual-calendar-from-leap-day",
        ),
        pytest.param(
            "2024-02-29", Cadence.annual(), Anchor.anniversary(), "2028-02-29",
            [
                P("2024-02-29", "2025-02-28"),
                P("2025-02-28", "2026-02-28"),
                P("2026-02-28", "2027-02-28"),
                P("2027-02-28", "2028-02-29"),
                P("2028-02-29", "2029-02-28"),
            ],
            id="annual-anniversary-from-leap-day",
        ),
        pytest.param(
            "2024-02-10", Cadence.every(months=2), Anchor.calendar(), "2024-07-01",
            # Two-month blocks counted from January of the start year: Jan-Feb, Mar-Apr, ...
            [
                P("2024-02-10", "2024-03-01", of=("2024-01-01", "2024-03-01")),
                P("2024-03-01", "2024-05-01"),
                P("2024-05-01", "2024-07-01"),
                P("2024-07-01", "2024-09-01"),
            ],
            id="every-2-months-calendar",
        ),
        pytest.param(
            "2024-12-31", Cadence.every(months=2), Anchor.anniversary(), "2025-08-31",
            [
                P("2024-12-31", "2025-02-28"),
                P("2025-02-28", "2025-04-30"),
                P("2025-04-30", "2025-06-30"),
                P("2025-06-30", "2025-08-31"),
                P("2025-08-31", "2025-10-31"),
            ],
            id="every-2-months-anniversary",
        ),
        pytest.param(
            "2024-01-30", Cadence.monthly(), Anchor.day_of_month(30), "2024-03-30",
            # February's "30th" is its last day, Feb 29 in a leap year.
            [
                P("2024-01-30", "2024-02-29"),
                P("2024-02-29", "2024-03-30"),
                P("2024-03-30", "2024-04-30"),
            ],
            id="day-of-month-30-in-a-leap-february",
        ),
    ],
)  # fmt: skip
def test_periods_by_cadence_and_anchor(
    start: str, cadence: Cadence, anchor: Anchor, through: str, expected: list[Period]
) -> None:
    assert periods(start=start, cadence=cadence, anchor=anchor, through=through) == expected


@pytest.mark.parametrize(
    ("start", "end", "cadence", "anchor", "through", "expected", "index", "days", "share"),
    [
        pytest.param(
            "2025-01-10", None, Cadence.monthly(), Anchor.day_of_month(30), "2025-04-30",
            # First day 30 on or after Jan 10 is Jan 30: [Jan 10, Jan 30) is a stub of the
            # nominal [Dec 30, Jan 30). February has no 30th, so that boundary is Feb 28.
            [
                P("2025-01-10", "2025-01-30", of=("2024-12-30", "2025-01-30")),
                P("2025-01-30", "2025-02-28"),
                P("2025-02-28", "2025-03-30"),
                P("2025-03-30", "2025-04-30"),
                P("2025-04-30", "2025-05-30"),
            ],
            # Jan 10..29 is 20 days of the 31 from Dec 30 to Jan 30.
            0, 20, Fraction(20, 31),
            id="day-of-month-30-across-february",
        ),
        pytest.param(
            "2025-02-10", None, Cadence.monthly(), Anchor.day_of_month(31), "2025-03-31",
            # February's "31st" is Feb 28, which is on or after Feb 10, so the stub ends there.
            [
                P("2025-02-10", "2025-02-28", of=("2025-01-31", "2025-02-28")),
                P("2025-02-28", "2025-03-31"),
                P("2025-03-31", "2025-04-30"),
            ],
            # Feb 10..27 is 18 days of the 28 from Jan 31 to Feb 28.
            0, 18, Fraction(18, 28),
            id="day-of-month-31-starting-before-februarys-last-day",
        ),
        pytest.param(
            "2024-01-20", None, Cadence.quarterly(), Anchor.day_of_month(15), "2024-05-15",
            # The first 15th on or after Jan 20 is Feb 15; quarters then run Feb 15, May 15, ...
            [
                P("2024-01-20", "2024-02-15", of=("2023-11-15", "2024-02-15")),
                P("2024-02-15", "2024-05-15"),
                P("2024-05-15", "2024-08-15"),
            ],
            # 26 days (Jan 20 .. Feb 14) of 92 (Nov 15 -> Dec 15 -> Jan 15 -> Feb 15: 30 + 31 + 31).
            0, 26, Fraction(26, 92),
            id="quarterly-day-of-month-starts-full-periods-at-the-next-occurrence",
        ),
        pytest.param(
            "2024-01-15", None, Cadence.monthly(), Anchor.calendar(), "2024-01-15",
            [P("2024-01-15", "2024-02-01", of=("2024-01-01", "2024-02-01"))],
            # Jan 15 .. Jan 31 is 17 days of January's 31.
            0, 17, Fraction(17, 31),
            id="calendar-monthly-first-stub",
        ),
        pytest.param(
            "2024-02-29", None, Cadence.annual(), Anchor.calendar(), "2025-01-01",
            [
                P("2024-02-29", "2025-01-01", of=("2024-01-01", "2025-01-01")),
                P("2025-01-01", "2026-01-01"),
            ],
            # 2024 has 366 days; Jan 1 .. Feb 28 are the 59 not covered.
            0, 366 - 59, Fraction(366 - 59, 366),
            id="annual-calendar-stub-in-a-leap-year",
        ),
        pytest.param(
            "2024-01-01", "2024-03-15", Cadence.monthly(), Anchor.calendar(), None,
            # A contract ending mid-period ends with a stub.
            [
                P("2024-01-01", "2024-02-01"),
                P("2024-02-01", "2024-03-01"),
                P("2024-03-01", "2024-03-15", of=("2024-03-01", "2024-04-01")),
            ],
            # Mar 1 .. Mar 14 is 14 days of March's 31.
            -1, 14, Fraction(14, 31),
            id="calendar-contract-ending-mid-period",
        ),
        pytest.param(
            "2024-01-15", "2024-04-01", Cadence.monthly(), Anchor.anniversary(), None,
            [
                P("2024-01-15", "2024-02-15"),
                P("2024-02-15", "2024-03-15"),
                P("2024-03-15", "2024-04-01", of=("2024-03-15", "2024-04-15")),
            ],
            # Mar 15 .. Mar 31 is 17 days of the 31 from Mar 15 to Apr 15.
            -1, 17, Fraction(17, 31),
            id="anniversary-contract-ending-mid-period",
        ),
        pytest.param(
            "2024-01-15", "2024-01-20", Cadence.monthly(), Anchor.calendar(), None,
            # Starting and ending inside one period: one stub.
            [P("2024-01-15", "2024-01-20", of=("2024-01-01", "2024-02-01"))],
            # Jan 15 .. Jan 19 is 5 days of January's 31.
            0, 5, Fraction(5, 31),
            id="contract-starting-and-ending-inside-one-period",
        ),
        pytest.param(
            "2024-01-15", "2024-07-15", Cadence.one_time(), Anchor.calendar(), None,
            # One time covers the whole term: a full period, 31+29+31+30+31+30 = 182 days.
            [P("2024-01-15", "2024-07-15")],
            0, 182, 1,
            id="one-time-covers-the-whole-term",
        ),
    ],
)  # fmt: skip
def test_a_periods_share_is_its_days_over_the_days_of_its_full_period(
    start: str, end: str | None, cadence: Cadence, anchor: Anchor, through: str | None,
    expected: list[Period], index: int, days: int, share: Fraction,
) -> None:
    result = periods(start=start, end=end, cadence=cadence, anchor=anchor, through=through)

    assert result == expected
    assert (result[index].days, result[index].share) == (days, share)


@pytest.mark.parametrize(
    ("start", "end", "cadence", "anchor", "through", "expected"),
    [
        pytest.param(
            "2024-01-01", "2024-03-01", Cadence.monthly(), Anchor.calendar(), "2030-01-01",
            # `through` after the end stops at the end.
            [P("2024-01-01", "2024-02-01"), P("2024-02-01", "2024-03-01")],
            id="through-after-the-end-stops-at-the-end",
        ),
        pytest.param(
            "2024-01-01", None, Cadence.monthly(), Anchor.calendar(), "2024-03-01",
            # Evergreen: `through` includes the period starting that day...
            [
                P("2024-01-01", "2024-02-01"),
                P("2024-02-01", "2024-03-01"),
                P("2024-03-01", "2024-04-01"),
            ],
            id="evergreen-through-the-first-day-of-a-period",
        ),
        pytest.param(
            "2024-01-01", None, Cadence.monthly(), Anchor.calendar(), "2024-02-29",
            # ...and the day before, not.
            [P("2024-01-01", "2024-02-01"), P("2024-02-01", "2024-03-01")],
            id="evergreen-through-the-day-before",
        ),
        pytest.param(
            "2024-01-01", None, Cadence.monthly(), Anchor.calendar(), "2023-12-31",
            [],  # `through` before the start: no periods
            id="through-before-the-start-gives-no-periods",
        ),
        pytest.param(
            "2024-01-15", None, Cadence.one_time(), Anchor.anniversary(), "2030-01-01",
            # One time on an evergreen contract is its first day.
            [P("2024-01-15", "2024-01-16")],
            id="one-time-on-an-evergreen-contract-is-its-first-day",
        ),
    ],
)  # fmt: skip
def test_the_periods_stop_at_the_end_or_at_through(
    start: str, end: str | None, cadence: Cadence, anchor: Anchor, through: str | None,
    expected: list[Period],
) -> None:
    assert periods(start=start, end=end, cadence=cadence, anchor=anchor,
                   through=through) == expected
