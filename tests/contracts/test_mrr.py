"""MRR, ARR and the movement of MRR (``contracts.metrics``): pure arithmetic over each
customer's recurring charges, checked by hand-worked examples and with Hypothesis."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.metrics import (
    Kind,
    RecurringCharge,
    arr,
    month_ends,
    month_starts,
    monthly_value,
    movement_kind,
    movements,
    mrr_movements,
    mrr_on,
)

PROPERTY = settings(deadline=None, database=None)  # no example database in the work tree
D = Decimal


def charge(customer, monthly, start, end=None, currency="USD"):
    return RecurringCharge(customer=customer, currency=currency, start=start, end=end,
                           monthly=D(monthly))


# --- one charge, one month --------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "months", "expected"), [
    ("1200", 12, "100"),  # annual 1,200 -> 100 a month
    ("300", 3, "100"),  # quarterly
    ("600", 6, "100"),  # semi-annual
    ("100", 1, "100"),  # monthly
    ("250", 5, "50"),  # every 5 months
])
def test_a_price_is_normalized_to_a_month_by_its_cadence(amount, months, expected):
    assert monthly_value(D(amount), months) == D(expected)


def test_an_annual_price_keeps_its_digits_until_it_is_written():
    # 1,000 / 12 = 83.333...: twelve of them make 1,000 again (to the context's precision).
    value = monthly_value(D("1000"), 12)
    assert str(value).startswith("83.3333333333")
    assert (value * 12).quantize(D("0.01")) == D("1000.00")


def test_a_float_or_a_period_under_a_month_is_refused():
    with pytest.raises(TypeError):
        monthly_value(1200.0, 12)
    with pytest.raises(ValueError):
        monthly_value(D("100"), 0)


def test_mrr_counts_what_is_in_force_on_the_day_per_currency():
    charges = [
        charge("a", "100", date(2026, 1, 1)),  # open-ended
        charge("b", "50", date(2026, 1, 1), end=date(2026, 3, 1)),  # through Feb 28
        charge("c", "90", date(2026, 2, 15), currency="EUR"),
        charge("d", "70", date(2026, 4, 1)),  # not yet
    ]
    # Feb 28: a 100 + b 50 = 150 USD; c 90 EUR -- the two currencies never added.
    assert mrr_on(charges, date(2026, 2, 28)) == {"USD": D("150"), "EUR": D("90")}
    # Mar 1 is b's end, the first day no longer covered: a alone.
    assert mrr_on(charges, date(2026, 3, 1)) == {"USD": D("100"), "EUR": D("90")}
    # Before anything started: nothing.
    assert mrr_on(charges, date(2025, 12, 31)) == {}
    assert arr(D("150")) == D("1800")


# --- month ends -------------------------------------------------------------------------------


def test_the_month_ends_are_each_months_last_day_and_today_for_this_month():
    assert month_starts(date(2026, 3, 15), 3) == [date(2026, 1, 1), date(2026, 2, 1),
                                                  date(2026, 3, 1)]
    # Dec 31 (the starting point), Jan 31, Feb 28 (2026 is no leap year), today.
    assert month_ends(date(2026, 3, 15), 3) == [date(2025, 12, 31), date(2026, 1, 31),
                                                date(2026, 2, 28), date(2026, 3, 15)]
    assert month_ends(date(2024, 3, 1), 2)[1] == date(2024, 2, 29)  # a leap year


# --- movement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after", "kind"), [
    ("0", "100", Kind.NEW),
    ("100", "150", Kind.EXPANSION),
    ("150", "120", Kind.CONTRACTION),
    ("120", "0", Kind.CHURN),
    ("120", "120", None),
    ("0", "0", None),
])
def test_each_customers_move_has_one_kind(before, after, kind):
    assert movement_kind(D(before), D(after)) is kind


def test_the_movement_of_a_new_an_expanded_a_contracted_and_a_churned_customer():
    """Worked by hand, months Jan-Mar 2026, MRR read at Dec 31, Jan 31, Feb 28 and Mar 31:

    - Newco:   0,   0,   100, 100   -> new +100 in February
    - Grower:  200, 200, 200, 350   -> expansion +150 in March
    - Shrinker 500, 300, 300, 300   -> contraction -200 in January
    - Leaver:  250, 250, 0,   0     -> churn -250 in February
    - Steady:  80,  80,  80,  80    -> no movement

    Opening MRR (Dec 31) 200 + 500 + 250 + 80 = 1,030.
    January: contraction -200; net -200; closing 830.
    February: new +100, churn -250; net -150; closing 680.
    March: expansion +150; net +150; closing 830.
    """
    series = {
        "newco": [D(0), D(0), D(100), D(100)],
        "grower": [D(200), D(200), D(200), D(350)],
        "shrinker": [D(500), D(300), D(300), D(300)],
        "leaver": [D(250), D(250), D(0), D(0)],
        "steady": [D(80)] * 4,
    }
    january, february, march = movements(
        series, [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)])

    assert (january.opening, january.closing) == (D(1030), D(830))
    assert (january.new, january.expansion, january.contraction, january.churn,
            january.net) == (D(0), D(0), D(-200), D(0), D(-200))
    assert [(c.customer, c.kind) for c in january.changes] == [("shrinker", Kind.CONTRACTION)]

    assert (february.new, february.expansion, february.contraction, february.churn,
            february.net) == (D(100), D(0), D(0), D(-250), D(-150))
    assert february.closing == D(680)
    assert [(c.customer, c.kind, c.amount) for c in february.changes] == [
        ("newco", Kind.NEW, D(100)), ("leaver", Kind.CHURN, D(-250))]

    assert (march.new, march.expansion, march.contraction, march.churn,
            march.net) == (D(0), D(150), D(0), D(0), D(150))
    assert march.closing == D(830)


def test_a_series_must_have_one_value_more_than_months():
    with pytest.raises(ValueError, match="one more"):
        movements({"a": [D(1), D(2)]}, [date(2026, 1, 1), date(2026, 2, 1)])


def test_mrr_movements_read_the_charges_at_the_month_ends_per_currency():
    """Three months to Mar 10, 2026 (MRR read Dec 31, Jan 31, Feb 28, Mar 10):

    - acme: 100 a month from 2025; from Feb 15 a second charge of 40 (an upsell) -> 100,
      100, 140, 140: expansion +40 in February;
    - globex: 60 from Jan 20 to Mar 5 (end: first day not covered) -> 0, 60, 60, 0: new
      +60 in January, churn -60 in March;
    - umbrella: 90 EUR from Mar 1 -> new +90 EUR in March, apart from the dollars.
    """
    charges = [
        charge("acme", "100", date(2025, 6, 1)),
        charge("acme", "40", date(2026, 2, 15)),
        charge("globex", "60", date(2026, 1, 20), end=date(2026, 3, 5)),
        charge("umbrella", "90", date(2026, 3, 1), currency="EUR"),
    ]
    result = mrr_movements(charges, today=date(2026, 3, 10), months=3)

    assert list(result) == ["EUR", "USD"]
    usd = result["USD"]
    assert [m.month for m in usd] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert [(m.new, m.expansion, m.contraction, m.churn) for m in usd] == [
        (D(60), D(0), D(0), D(0)), (D(0), D(40), D(0), D(0)), (D(0), D(0), D(0), D(-60))]
    assert [m.closing for m in usd] == [D(160), D(200), D(140)]
    assert [(m.new, m.closing) for m in result["EUR"]] == [
        (D(0), D(0)), (D(0), D(0)), (D(90), D(90))]


# --- properties -------------------------------------------------------------------------------

AMOUNTS = st.decimals(min_value=0, max_value=100_000, places=2)
SERIES = st.integers(min_value=1, max_value=6).flatmap(
    lambda months: st.tuples(
        st.just(months),
        st.dictionaries(st.text(min_size=1, max_size=4),
                        st.lists(st.one_of(st.just(D(0)), AMOUNTS), min_size=months + 1,
                                 max_size=months + 1), max_size=8)))


@PROPERTY
@given(SERIES)
def test_the_kinds_add_up_to_the_net_and_the_net_to_the_closing_mrr(drawn):
    months, series = drawn
    firsts = month_starts(date(2026, 6, 15), months)
    result = movements(series, firsts)
    for i, month in enumerate(result):
        assert month.new + month.expansion + month.contraction + month.churn == month.net
        assert month.opening + month.net == month.closing
        assert month.closing == sum((values[i + 1] for values in series.values()), D(0))
        assert month.new >= 0 and month.expansion >= 0
        assert month.contraction <= 0 and month.churn <= 0
        assert len({c.customer for c in month.changes}) == len(month.changes)
    for before, after in zip(result, result[1:], strict=False):
        assert before.closing == after.opening


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from("abc"), AMOUNTS,
                          st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
                          st.one_of(st.none(), st.integers(min_value=1, max_value=400))),
                max_size=10),
       st.dates(min_value=date(2025, 6, 1), max_value=date(2026, 12, 31)))
def test_the_last_months_closing_is_the_mrr_of_today(drawn, today):
    charges = [charge(customer, amount, start,
                      end=None if length is None else start + timedelta(days=length))
               for customer, amount, start, length in drawn]
    result = mrr_movements(charges, today=today, months=12)
    now = mrr_on(charges, today)
    for currency, months in result.items():
        assert months[-1].closing == now.get(currency, D(0))
