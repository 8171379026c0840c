"""Billing periods by cadence and anchor. Every expected period is worked out by hand
from a calendar: a stub is written with the full period it is part of (`of=`)."""

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
    ],
)  # fmt: skip
def test_periods_by_cadence_and_anchor(
    start: str, cadence: Cadence, anchor: Anchor, through: str, expected: list[Period]
) -> None:
    assert periods(start=start, cadence=cadence, anchor=anchor, through=through) == expected


def test_day_of_month_30_across_february() -> None:
    # First day 30 on or after Jan 10 is Jan 30: [Jan 10, Jan 30) is a stub of the
    # nominal [Dec 30, Jan 30). February has no 30th, so that boundary is Feb 28.
    result = periods(
        start="2025-01-10", cadence=Cadence.monthly(), anchor=Anchor.day_of_month(30),
        through="2025-04-30",
    )  # fmt: skip

    assert result == [
        P("2025-01-10", "2025-01-30", of=("2024-12-30", "2025-01-30")),
        P("2025-01-30", "2025-02-28"),
        P("2025-02-28", "2025-03-30"),
        P("2025-03-30", "2025-04-30"),
        P("2025-04-30", "2025-05-30"),
    ]
    # Jan 10..29 is 20 days of the 31 from Dec 30 to Jan 30.
    assert result[0].share == Fraction(20, 31)


def test_day_of_month_30_in_a_leap_february() -> None:
    result = periods(
        start="2024-01-30", cadence=Cadence.monthly(), anchor=Anchor.day_of_month(30),
        through="2024-03-30",
    )  # fmt: skip

    assert result == [
        P("2024-01-30", "2024-02-29"),
        P("2024-02-29", "2024-03-30"),
        P("2024-03-30", "2024-04-30"),
    ]


def test_day_of_month_31_starting_before_februarys_last_day() -> None:
    # February's "31st" is Feb 28, which is on or after Feb 10, so the stub ends there.
    result = periods(
        start="2025-02-10", cadence=Cadence.monthly(), anchor=Anchor.day_of_month(31),
        through="2025-03-31",
    )  # fmt: skip

    assert result == [
        P("2025-02-10", "2025-02-28", of=("2025-01-31", "2025-02-28")),
        P("2025-02-28", "2025-03-31"),
        P("2025-03-31", "2025-04-30"),
    ]
    assert result[0].share == Fraction(18, 28)


def test_quarterly_day_of_month_starts_full_periods_at_the_next_occurrence() -> None:
    # The first 15th on or after Jan 20 is Feb 15; quarters then run Feb 15, May 15, ...
    result = periods(
        start="2024-01-20", cadence=Cadence.quarterly(), anchor=Anchor.day_of_month(15),
        through="2024-05-15",
    )  # fmt: skip

    assert result == [
        P("2024-01-20", "2024-02-15", of=("2023-11-15", "2024-02-15")),
        P("2024-02-15", "2024-05-15"),
        P("2024-05-15", "2024-08-15"),
    ]
    # 26 days (Jan 20 .. Feb 14) of 92 (Nov 15 -> Dec 15 -> Jan 15 -> Feb 15: 30 + 31 + 31).
    assert result[0].share == Fraction(26, 92)


def test_calendar_monthly_stub_first_period_share() -> None:
    first = periods(
        start="2024-01-15", cadence=Cadence.monthly(), anchor=Anchor.calendar(),
        through="2024-01-15",
    )  # fmt: skip

    assert first == [P("2024-01-15", "2024-02-01", of=("2024-01-01", "2024-02-01"))]
    # Jan 15 .. Jan 31 is 17 days of January's 31.
    assert first[0].share == Fraction(17, 31)
    assert first[0].days == 17


def test_annual_calendar_stub_share_in_a_leap_year() -> None:
    (first, _) = periods(
        start="2024-02-29", cadence=Cadence.annual(), anchor=Anchor.calendar(),
        through="2025-01-01",
    )  # fmt: skip
    # 2024 has 366 days; Jan 1 .. Feb 28 are the 59 not covered.
    assert first.share == Fraction(366 - 59, 366)


def test_contract_ending_mid_period_ends_with_a_stub() -> None:
    result = periods(
        start="2024-01-01", end="2024-03-15", cadence=Cadence.monthly(),
        anchor=Anchor.calendar(), through=None,
    )  # fmt: skip

    assert result == [
        P("2024-01-01", "2024-02-01"),
        P("2024-02-01", "2024-03-01"),
        P("2024-03-01", "2024-03-15", of=("2024-03-01", "2024-04-01")),
    ]
    assert result[-1].share == Fraction(14, 31)


def test_anniversary_contract_ending_mid_period() -> None:
    result = periods(
        start="2024-01-15", end="2024-04-01", cadence=Cadence.monthly(),
        anchor=Anchor.anniversary(), through=None,
    )  # fmt: skip

    assert result == [
        P("2024-01-15", "2024-02-15"),
        P("2024-02-15", "2024-03-15"),
        P("2024-03-15", "2024-04-01", of=("2024-03-15", "2024-04-15")),
    ]
    assert result[-1].share == Fraction(17, 31)


def test_contract_starting_and_ending_inside_one_period_is_one_stub() -> None:
    result = periods(
        start="2024-01-15", end="2024-01-20", cadence=Cadence.monthly(),
        anchor=Anchor.calendar(), through=None,
    )  # fmt: skip

    assert result == [P("2024-01-15", "2024-01-20", of=("2024-01-01", "2024-02-01"))]
    assert result[0].share == Fraction(5, 31)


def test_through_after_the_end_stops_at_the_end() -> None:
    result = periods(
        start="2024-01-01", end="2024-03-01", cadence=Cadence.monthly(),
        anchor=Anchor.calendar(), through="2030-01-01",
    )  # fmt: skip

    assert result == [P("2024-01-01", "2024-02-01"), P("2024-02-01", "2024-03-01")]


def test_evergreen_through_includes_the_period_starting_that_day() -> None:
    on_first = periods(
        start="2024-01-01", cadence=Cadence.monthly(), anchor=Anchor.calendar(),
        through="2024-03-01",
    )  # fmt: skip
    day_before = periods(
        start="2024-01-01", cadence=Cadence.monthly(), anchor=Anchor.calendar(),
        through="2024-02-29",
    )  # fmt: skip

    assert on_first == [
        P("2024-01-01", "2024-02-01"),
        P("2024-02-01", "2024-03-01"),
        P("2024-03-01", "2024-04-01"),
    ]
    assert day_before == [P("2024-01-01", "2024-02-01"), P("2024-02-01", "2024-03-01")]


def test_through_before_the_start_gives_no_periods() -> None:
    result = periods(
        start="2024-01-01", cadence=Cadence.monthly(), anchor=Anchor.calendar(),
        through="2023-12-31",
    )  # fmt: skip

    assert result == []


def test_one_time_covers_the_whole_term() -> None:
    result = periods(
        start="2024-01-15", end="2024-07-15", cadence=Cadence.one_time(),
        anchor=Anchor.calendar(), through=None,
    )  # fmt: skip

    assert result == [P("2024-01-15", "2024-07-15")]
    assert result[0].share == 1


def test_one_time_on_an_evergreen_contract_is_its_first_day() -> None:
    result = periods(
        start="2024-01-15", cadence=Cadence.one_time(), anchor=Anchor.anniversary(),
        through="2030-01-01",
    )  # fmt: skip

    assert result == [P("2024-01-15", "2024-01-16")]
