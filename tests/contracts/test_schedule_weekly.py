"""Weekly billing periods: 7 local days from a chosen weekday (calendar) or from the start
date (anniversary), a partial first or last week prorated by day. Every expected period is
read off a calendar: 2026-01-05 is a Monday, 2026-01-07 a Wednesday."""

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.schedule import (
    Anchor,
    Cadence,
    ContractTerms,
    Phase,
    PriceItem,
    ScheduleError,
    Timing,
    billing_dates,
    billing_periods,
)

d = date.fromisoformat


def spans(periods):
    return [(str(p.start), str(p.end), p.share) for p in periods]


def test_calendar_weeks_start_on_monday_and_a_mid_week_start_is_a_stub():
    periods = billing_periods(start=d("2026-01-07"), end=d("2026-02-05"),
                              cadence=Cadence.weekly(), anchor=Anchor.calendar(), tz="UTC")
    assert spans(periods) == [
        ("2026-01-07", "2026-01-12", Fraction(5, 7)),  # Wed-Sun of the week from Mon Jan 5
        ("2026-01-12", "2026-01-19", 1),
        ("2026-01-19", "2026-01-26", 1),
        ("2026-01-26", "2026-02-02", 1),
        ("2026-02-02", "2026-02-05", Fraction(3, 7)),  # Mon-Wed of the week to Mon Feb 9
    ]
    assert (periods[0].full.start, periods[0].full.end) == (d("2026-01-05"), d("2026-01-12"))


def test_a_chosen_weekday_starts_each_week():
    periods = billing_periods(start=d("2026-01-07"), end=None, through=d("2026-01-20"),
                              cadence=Cadence.weekly(), anchor=Anchor.calendar(weekday=4),
                              tz="UTC")
    # Friday weeks: Wed Jan 7 - Thu Jan 8 is 2 of the 7 days from Fri Jan 2
    assert spans(periods) == [
        ("2026-01-07", "2026-01-09", Fraction(2, 7)),
        ("2026-01-09", "2026-01-16", 1),
        ("2026-01-16", "2026-01-23", 1),
    ]


def test_anniversary_weeks_start_on_the_start_date():
    periods = billing_periods(start=d("2026-01-07"), end=d("2026-01-25"),
                              cadence=Cadence.weekly(), anchor=Anchor.anniversary(), tz="UTC")
    assert spans(periods) == [
        ("2026-01-07", "2026-01-14", 1),
        ("2026-01-14", "2026-01-21", 1),
        ("2026-01-21", "2026-01-25", Fraction(4, 7)),
    ]


def test_a_week_across_a_daylight_saving_change_is_still_seven_days():
    [period] = billing_periods(start=d("2026-03-02"), end=d("2026-03-09"),
                               cadence=Cadence.weekly(), anchor=Anchor.calendar(),
                               tz="America/New_York")
    assert period.share == 1 and period.days == 7
    assert period.duration.total_seconds() == 7 * 24 * 3600 - 3600  # clocks went forward


def test_weekly_periods_refuse_a_day_of_the_month_anchor():
    with pytest.raises(ScheduleError) as caught:
        billing_periods(start=d("2026-01-07"), end=None, through=d("2026-02-01"),
                        cadence=Cadence.weekly(), anchor=Anchor.day_of_month(15), tz="UTC")
    assert caught.value.field == "anchor.kind"
    with pytest.raises(ScheduleError):
        ContractTerms(start=d("2026-01-07"), end=None, tz="UTC", cadence=Cadence.monthly(),
                      anchor=Anchor.day_of_month(15), phases=(Phase(
                          start=d("2026-01-07"), end=None, items=(PriceItem(
                              key="x", timing=Timing.ADVANCE, cadence=Cadence.weekly()),)),))


@pytest.mark.parametrize(("anchor", "field"), [
    (lambda: Anchor(kind="anniversary", weekday=0), "anchor.weekday"),
    (lambda: Anchor.calendar(weekday=7), "anchor.weekday"),
    (lambda: Cadence(months=1, weeks=1), "cadence.weeks"),
    (lambda: Cadence(weeks=0), "cadence.weeks"),
], ids=["weekday-on-anniversary", "weekday-8", "months-and-weeks", "zero-weeks"])
def test_bad_weekly_terms_name_their_field(anchor, field):
    with pytest.raises(ScheduleError) as caught:
        anchor()
    assert caught.value.field == field


def test_a_weekly_contract_bills_in_advance_on_each_week_and_in_arrears_after_it():
    terms = ContractTerms(
        start=d("2026-01-07"), end=d("2026-01-21"), tz="UTC", cadence=Cadence.weekly(),
        anchor=Anchor.calendar(),
        phases=(Phase(start=d("2026-01-07"), end=d("2026-01-21"), items=(
            PriceItem(key="fee", timing=Timing.ADVANCE),
            PriceItem(key="usage", timing=Timing.ARREARS),
        )),),
    )
    due = [(str(b.on), [(c.item.key, str(c.period.start), c.share) for c in b.charges])
           for b in billing_dates(terms=terms, through=d("2026-02-01"))]
    assert due == [
        ("2026-01-07", [("fee", "2026-01-07", Fraction(5, 7))]),
        ("2026-01-12", [("fee", "2026-01-12", 1), ("usage", "2026-01-07", Fraction(5, 7))]),
        ("2026-01-19", [("fee", "2026-01-19", Fraction(2, 7)), ("usage", "2026-01-12", 1)]),
        ("2026-01-21", [("usage", "2026-01-19", Fraction(2, 7))]),
    ]


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
       days=st.integers(1, 400), weekday=st.none() | st.integers(0, 6),
       anniversary=st.booleans())
def test_weekly_periods_tile_the_term_and_their_shares_count_its_days(start, days, weekday,
                                                                       anniversary):
    anchor = Anchor.anniversary() if anniversary else Anchor.calendar(weekday=weekday)
    end = date.fromordinal(start.toordinal() + days)
    periods = billing_periods(start=start, end=end, cadence=Cadence.weekly(), anchor=anchor,
                              tz="UTC")
    assert periods[0].start == start and periods[-1].end == end
    assert all(a.end == b.start for a, b in zip(periods, periods[1:], strict=False))
    assert all(p.full.days == 7 for p in periods)
    # every share is days / 7, so the shares add up to the term's days in weeks
    assert sum(p.share for p in periods) == Fraction(days, 7)
    first_day = start.weekday() if anniversary else (weekday or 0)
    assert all(p.full.start.weekday() == first_day for p in periods)
