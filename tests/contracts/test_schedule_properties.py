"""Properties of the billing schedule that must hold for every contract, checked with
Hypothesis over start dates, terms, cadences, anchors and time zones with odd DST rules."""

import calendar
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.schedule import (
    Anchor,
    Cadence,
    ContractTerms,
    Period,
    Phase,
    PriceItem,
    Timing,
    billing_dates,
    billing_periods,
    proration_share,
    split_period,
)

# No example database: the suite must not write into the working tree.
PROPERTY = settings(deadline=None, database=None)

ZONES = st.sampled_from(
    [
        "UTC",
        "America/New_York",
        "Europe/London",
        "America/Santiago",  # clocks jump at midnight: some days have no 00:00
        "Australia/Lord_Howe",  # 30-minute DST shift
        "Pacific/Apia",  # skipped a whole day (2011-12-30)
    ]
)
DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
CADENCES = st.integers(min_value=1, max_value=24).map(lambda months: Cadence(months=months))
ANCHORS = st.one_of(
    st.just(Anchor.calendar()),
    st.just(Anchor.anniversary()),
    st.integers(min_value=1, max_value=31).map(Anchor.day_of_month),
)


def month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


@st.composite
def some_period(draw: st.DrawFn) -> Period:
    """Any billing period of some contract: full or a stub, in any zone."""
    start = draw(DATES)
    periods = billing_periods(
        start=start,
        end=None,
        cadence=draw(CADENCES),
        anchor=draw(ANCHORS),
        tz=draw(ZONES),
        through=start + timedelta(days=draw(st.integers(min_value=0, max_value=800))),
    )
    return draw(st.sampled_from(periods))


@PROPERTY
@given(
    start=DATES,
    length=st.none() | st.integers(min_value=1, max_value=1500),
    horizon=st.integers(min_value=0, max_value=1500),
    cadence=CADENCES,
    anchor=ANCHORS,
    tz=ZONES,
)
def test_consecutive_periods_tile_the_timeline(
    start: date, length: int | None, horizon: int, cadence: Cadence, anchor: Anchor, tz: str
) -> None:
    end = None if length is None else start + timedelta(days=length)
    through = start + timedelta(days=horizon)

    periods = billing_periods(
        start=start, end=end, cadence=cadence, anchor=anchor, tz=tz, through=through
    )

    assert periods[0].start == start
    for before, after in pairwise(periods):
        assert before.end == after.start
        assert before.end_utc == after.start_utc
        assert before.full.end == after.full.start  # the nominal periods tile too
    for period in periods:
        # Not strictly less: Pacific/Apia skipped 2011-12-30, a local day of zero hours.
        assert period.start_utc <= period.end_utc
        assert period.full.start <= period.start < period.end <= period.full.end
    # Only the first (late start) and last (early end) period can be partial.
    assert not any(period.is_stub for period in periods[1:-1])
    last = periods[-1]
    assert last.start <= through
    if end is None:
        assert last.end > through
    else:
        assert last.end <= end
        assert last.end == end or last.end > through


@PROPERTY
@given(period=some_period(), offsets=st.lists(st.integers(min_value=-40, max_value=400)))
def test_shares_of_the_pieces_of_a_split_period_sum_exactly(
    period: Period, offsets: list[int]
) -> None:
    cuts = [period.start + timedelta(days=offset) for offset in offsets]

    pieces = split_period(period=period, at=cuts)
    full_pieces = split_period(period=period.full, at=cuts)

    assert pieces[0].start == period.start
    assert pieces[-1].end == period.end
    assert all(before.end == after.start for before, after in pairwise(pieces))
    assert all(piece.full == period.full for piece in pieces)
    assert sum((piece.share for piece in pieces), Fraction(0)) == period.share
    assert sum((piece.share for piece in full_pieces), Fraction(0)) == 1


@PROPERTY
@given(
    period=some_period(), a=st.integers(-40, 400), b=st.integers(-40, 400), c=st.integers(-40, 400)
)
def test_proration_share_is_additive_over_adjacent_ranges(
    period: Period, a: int, b: int, c: int
) -> None:
    first, middle, last = (period.start + timedelta(days=n) for n in sorted((a, b, c)))

    whole = proration_share(period=period, start=first, end=last)

    assert whole == proration_share(period=period, start=first, end=middle) + proration_share(
        period=period, start=middle, end=last
    )
    assert 0 <= whole <= period.share


@PROPERTY
@given(
    start=DATES,
    months=st.integers(min_value=1, max_value=24),
    day=st.none() | st.integers(min_value=1, max_value=31),
)
def test_anniversary_and_day_of_month_anchors_never_drift(
    start: date, months: int, day: int | None
) -> None:
    anchor = Anchor.anniversary() if day is None else Anchor.day_of_month(day)
    anchor_day = start.day if day is None else day

    periods = billing_periods(
        start=start, end=None, cadence=Cadence(months=months), anchor=anchor,
        tz="UTC", through=start + timedelta(days=365 * 8),
    )  # fmt: skip

    boundaries = [period.full.start for period in periods] + [periods[-1].full.end]
    for boundary in boundaries:
        assert boundary.day == min(anchor_day, month_length(boundary))
    for before, after in pairwise(boundaries):
        assert months_between(before, after) == months
    if day is None:
        assert boundaries[0] == start  # an anniversary contract never starts with a stub


@PROPERTY
@given(start=DATES, months=st.sampled_from([1, 2, 3, 4, 6, 12]))
def test_calendar_anchors_fall_on_calendar_boundaries(start: date, months: int) -> None:
    periods = billing_periods(
        start=start, end=None, cadence=Cadence(months=months), anchor=Anchor.calendar(),
        tz="UTC", through=start + timedelta(days=365 * 3),
    )  # fmt: skip

    for period in periods:
        assert period.full.start.day == 1
        assert (period.full.start.month - 1) % months == 0


@PROPERTY
@given(
    start=DATES,
    cadence=CADENCES,
    anchor=ANCHORS,
    phase_starts=st.sets(st.integers(min_value=1, max_value=700), max_size=6),
    timing=st.sampled_from(Timing),
)
def test_phase_changes_never_lose_or_double_bill_a_day(
    start: date, cadence: Cadence, anchor: Anchor, phase_starts: set[int], timing: Timing
) -> None:
    # The same price in every phase: whatever the phase cuts, each full period it is
    # billed for must add up to exactly one period, and the billed days must tile.
    cuts = [start] + [start + timedelta(days=offset) for offset in sorted(phase_starts)]
    fee = PriceItem(key="fee", timing=timing)
    terms = ContractTerms(
        start=start,
        end=None,
        tz="America/New_York",
        cadence=cadence,
        anchor=anchor,
        phases=tuple(
            Phase(start=phase_start, end=phase_end, items=(fee,))
            for phase_start, phase_end in zip(cuts, [*cuts[1:], None], strict=True)
        ),
    )
    through = start + timedelta(days=800)

    bills = billing_dates(terms=terms, through=through)
    charges = [charge for bill in bills for charge in bill.charges]

    assert all(before.on < after.on <= through for before, after in pairwise(bills))

    billed = sorted((charge.period for charge in charges), key=lambda period: period.start)
    assert billed[0].start == start
    assert all(before.end == after.start for before, after in pairwise(billed))
    shares: dict[Period, Fraction] = {}
    for period in billed:
        shares[period.full] = shares.get(period.full, Fraction(0)) + period.share
    for full, share in shares.items():
        if start <= full.start and full.end <= billed[-1].end:
            assert share == 1
