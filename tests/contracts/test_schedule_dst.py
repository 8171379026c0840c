"""Exact UTC instants of periods around daylight-saving changes in the contract's zone.

Expected instants are written from the zone's rules: America/New_York is UTC-5 in winter
and UTC-4 in summer (2024: from Mar 10 to Nov 3); Europe/London moves to UTC+1 on
2024-03-31; America/Santiago jumps from 00:00 to 01:00 on 2024-09-08, so that day has no
local midnight.
"""

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from contracts.schedule import Anchor, Cadence, Period, billing_periods, split_period

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SANTIAGO = ZoneInfo("America/Santiago")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hours(period: Period) -> float:
    return period.duration / timedelta(hours=1)


def test_new_york_spring_forward_month_is_one_hour_short() -> None:
    feb, mar, apr = billing_periods(
        start=date(2024, 2, 1), end=None, cadence=Cadence.monthly(),
        anchor=Anchor.calendar(), tz="America/New_York", through=date(2024, 4, 1),
    )  # fmt: skip

    assert (feb.start_utc, feb.end_utc) == (utc("2024-02-01T05:00"), utc("2024-03-01T05:00"))
    assert (mar.start_utc, mar.end_utc) == (utc("2024-03-01T05:00"), utc("2024-04-01T04:00"))
    assert (apr.start_utc, apr.end_utc) == (utc("2024-04-01T04:00"), utc("2024-05-01T04:00"))
    assert [hours(feb), hours(mar), hours(apr)] == [29 * 24, 31 * 24 - 1, 30 * 24]
    assert mar.start_utc.tzinfo is UTC


def test_new_york_fall_back_month_is_one_hour_long() -> None:
    oct_, nov = billing_periods(
        start=date(2024, 10, 1), end=None, cadence=Cadence.monthly(),
        anchor=Anchor.calendar(), tz="America/New_York", through=date(2024, 11, 1),
    )  # fmt: skip

    assert (oct_.start_utc, oct_.end_utc) == (utc("2024-10-01T04:00"), utc("2024-11-01T04:00"))
    assert (nov.start_utc, nov.end_utc) == (utc("2024-11-01T04:00"), utc("2024-12-01T05:00"))
    assert [hours(oct_), hours(nov)] == [31 * 24, 30 * 24 + 1]


def test_a_short_dst_day_does_not_change_a_share() -> None:
    march = Period(start=date(2024, 3, 1), end=date(2024, 4, 1), tz=NEW_YORK)

    before, dst_day, after = split_period(period=march, at=[date(2024, 3, 10), date(2024, 3, 11)])

    assert hours(dst_day) == 23
    # By days: 9 + 1 + 21 of 31, although the hours are 216 + 23 + 504 of 743.
    assert [before.share, dst_day.share, after.share] == [
        Fraction(9, 31),
        Fraction(1, 31),
        Fraction(21, 31),
    ]


def test_stub_starting_on_the_dst_day() -> None:
    (stub,) = billing_periods(
        start=date(2024, 3, 10), end=None, cadence=Cadence.monthly(),
        anchor=Anchor.calendar(), tz="America/New_York", through=date(2024, 3, 31),
    )  # fmt: skip

    assert stub.start_utc == utc("2024-03-10T05:00")  # the day starts before the jump
    assert stub.end_utc == utc("2024-04-01T04:00")
    assert hours(stub) == 22 * 24 - 1
    assert stub.share == Fraction(22, 31)


def test_london_quarter_spanning_the_clock_change() -> None:
    q1, q2 = billing_periods(
        start=date(2024, 1, 1), end=None, cadence=Cadence.quarterly(),
        anchor=Anchor.calendar(), tz="Europe/London", through=date(2024, 4, 1),
    )  # fmt: skip

    assert (q1.start_utc, q1.end_utc) == (utc("2024-01-01T00:00"), utc("2024-03-31T23:00"))
    assert q2.start_utc == utc("2024-03-31T23:00")
    assert hours(q1) == 91 * 24 - 1


def test_day_without_local_midnight_starts_at_the_jump() -> None:
    # 2024-09-08 00:00 -04 never happens: clocks go to 01:00 -03 at 04:00 UTC.
    day = Period(start=date(2024, 9, 8), end=date(2024, 9, 9), tz=SANTIAGO)

    assert day.start_utc == utc("2024-09-08T04:00")
    assert day.end_utc == utc("2024-09-09T03:00")
    assert hours(day) == 23


def test_consecutive_periods_share_their_utc_instant_across_dst() -> None:
    result = billing_periods(
        start=date(2024, 1, 15), end=date(2025, 1, 15), cadence=Cadence.monthly(),
        anchor=Anchor.anniversary(), tz="America/New_York",
    )  # fmt: skip

    assert len(result) == 12
    for before, after in zip(result, result[1:], strict=False):
        assert before.end_utc == after.start_utc
    # Feb 15 -> Mar 15 contains the spring change (Mar 10), Oct 15 -> Nov 15 the autumn one.
    assert [hours(p) - p.days * 24 for p in result] == [0, -1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
