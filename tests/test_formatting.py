"""zenskar.formatting: the one way amounts, quantities, days, instants and durations are
written -- on the dashboard, in invoices and e-mails, on the hosted checkout. Every expected
text is written out by hand (CLDR's spaces spelled out: NBSP ``\\xa0``, narrow NBSP
``\\u202f``, thin space ``\\u2009``)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from zenskar.formatting import (
    format_date,
    format_datetime,
    format_duration,
    format_money,
    format_period,
    format_quantity,
)

# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (Decimal("1234.5"), "USD", "en_US", "$1,234.50"),  # two digits, grouped
        (Decimal("5000"), "USD", "en_US", "$5,000.00"),  # the dashboard's "5000 USD" no more
        (Decimal("1.005"), "USD", "en_US", "$1.01"),  # half-up, as an invoice line rounds
        (Decimal("-1.005"), "USD", "en_US", "-$1.01"),  # a credit mirrors its charge
        (Decimal("1234.5"), "JPY", "en_US", "¥1,235"),  # no minor unit; 0.5 goes up
        (Decimal("1.2345"), "KWD", "en_US", "KWD1.235"),  # three digits, half-up
        (Decimal("1234.5"), "EUR", "de_DE", "1.234,50\xa0€"),  # the customer's locale
        (Decimal("1234.5"), "EUR", "fr_FR", "1\u202f234,50\xa0€"),
        (Decimal("-0.001"), "USD", "en_US", "$0.00"),  # never "-$0.00"
        (7, "USD", "en_US", "$7.00"),  # an int is exact
        ("19.99", "USD", "en_US", "$19.99"),  # and so is a decimal string
    ],
)
def test_an_amount_is_rounded_to_its_currency_and_written_in_the_locale(
    amount, currency, locale, expected
):
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize(
    ("price", "currency", "expected"),
    [
        (Decimal("0.0020000000"), "USD", "$0.002"),  # stored with 10 places: the zeros go
        (Decimal("0.0000125"), "USD", "$0.0000125"),  # every significant digit stays
        (Decimal("12.0000000000"), "USD", "$12.00"),  # never fewer than the currency's 2
        (Decimal("0.1"), "USD", "$0.10"),
        (Decimal("1234.56789"), "USD", "$1,234.56789"),
        (Decimal("0.5"), "JPY", "¥0.5"),  # half a yen per unit is a real price
        (Decimal("3"), "JPY", "¥3"),
    ],
)
def test_a_unit_price_keeps_its_digits(price, currency, expected):
    assert format_money(price, currency, exact=True) == expected


@pytest.mark.parametrize("formatter", [
    lambda value: format_money(value, "USD"),
    lambda value: format_money(value, "USD", exact=True),
    format_quantity,
])
def test_a_float_is_refused_everywhere(formatter):
    with pytest.raises(TypeError, match="float"):
        formatter(0.1)


def test_an_unknown_currency_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="unknown currency"):
        format_money(Decimal(1), "ZZZ")


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [
        (Decimal("25.0000000000"), "en_US", "25"),  # trailing zeros go
        (Decimal("50000"), "en_US", "50,000"),  # no exponent: 5E+4 is written out, grouped
        (Decimal("1234.5000"), "en_US", "1,234.5"),
        (Decimal("0.0020"), "en_US", "0.002"),
        (Decimal("-0.000"), "en_US", "0"),  # never "-0"
        (Decimal("1234567.5"), "de_DE", "1.234.567,5"),
        (Decimal("1234567.5"), "fr_FR", "1\u202f234\u202f567,5"),
        (250000, "en_US", "250,000"),
        ("1E+30", "en_US", "1,000,000,000,000,000,000,000,000,000,000"),  # past 28 digits
    ],
)
def test_a_quantity_loses_its_trailing_zeros_and_is_grouped(value, locale, expected):
    assert format_quantity(value, locale) == expected


def test_a_quantity_can_be_cut_to_some_decimals_half_up():
    # an average: 7 / 3 = 2.333333333...; at most 6 decimals
    assert format_quantity(Decimal("2.3333333333"), max_decimals=6) == "2.333333"
    assert format_quantity(Decimal("0.0000005"), max_decimals=6) == "0.000001"  # half-up
    assert format_quantity(Decimal("1.5000004"), max_decimals=6) == "1.5"


def test_the_value_of_an_input_has_no_separator():
    assert format_quantity(Decimal("1234.5000000000"), grouping=False) == "1234.5"


# --- days and periods -------------------------------------------------------------------------

MARCH_1 = dt.date(2026, 3, 1)
APRIL_1 = dt.date(2026, 4, 1)


@pytest.mark.parametrize(
    ("style", "locale", "expected"),
    [
        ("iso", "en_US", "2026-03-01"),  # the dashboard's: sortable, the same everywhere
        ("medium", "en_US", "Mar 1, 2026"),
        ("long", "en_US", "March 1, 2026"),  # an invoice e-mail's due date
        ("short", "en_US", "3/1/26"),
        ("long", "de_DE", "1. März 2026"),
        ("dd.MM.yyyy", "en_US", "01.03.2026"),  # a CLDR pattern of a tenant's template
    ],
)
def test_a_day_in_each_style(style, locale, expected):
    assert format_date(MARCH_1, locale=locale, style=style) == expected


def test_an_instant_is_not_a_day():
    # Which day 2026-03-01 23:30 UTC is depends on the zone: say which, with format_datetime.
    with pytest.raises(TypeError, match="a date is needed"):
        format_date(dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))


def test_a_period_as_the_dashboard_and_as_a_document_write_it():
    assert format_period(MARCH_1, APRIL_1, style="iso") == "2026-03-01 → 2026-04-01"
    # what both days share is written once
    assert format_period(MARCH_1, APRIL_1) == "Mar 1\u2009–\u2009Apr 1, 2026"
    assert format_period(MARCH_1, None) == "Mar 1, 2026"
    assert format_period(MARCH_1, None, style="iso") == "2026-03-01"


# --- instants ---------------------------------------------------------------------------------

LATE_EVENING = dt.datetime(2026, 3, 1, 23, 5, 7, tzinfo=dt.UTC)


def test_an_instant_as_the_clock_of_a_zone_shows_it():
    assert format_datetime(LATE_EVENING) == "2026-03-01 23:05"  # UTC unless told
    assert format_datetime(LATE_EVENING, seconds=True) == "2026-03-01 23:05:07"
    # Paris is UTC+1 in March: already the next day
    assert format_datetime(LATE_EVENING, "Europe/Paris") == "2026-03-02 00:05"
    assert format_datetime(LATE_EVENING, ZoneInfo("America/New_York")) == "2026-03-01 18:05"
    assert format_datetime(LATE_EVENING, "America/New_York", style="medium") == \
        "Mar 1, 2026, 6:05:07\u202fPM"


def test_an_instant_across_a_dst_change_uses_the_offset_of_that_moment():
    # New York leaves EST (UTC-5) for EDT (UTC-4) at 2026-03-08 07:00 UTC
    before = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)
    after = dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)
    assert format_datetime(before, "America/New_York") == "2026-03-08 01:30"
    assert format_datetime(after, "America/New_York") == "2026-03-08 03:30"


def test_a_naive_datetime_is_no_instant():
    with pytest.raises(ValueError, match="naive"):
        format_datetime(dt.datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001 - the point of the test


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.timedelta(days=3), "3 days"),
        (dt.timedelta(days=1), "1 day"),
        (dt.timedelta(hours=2, minutes=5), "2 h 5 min"),
        (7_500, "2 h 5 min"),  # whole seconds: 2 x 3,600 + 5 x 60
        (dt.timedelta(minutes=90), "1 h 30 min"),
        (dt.timedelta(days=1, seconds=30), "1 day 30 s"),  # a zero unit is left out
        (dt.timedelta(days=30), "30 days"),  # a payment link's life
        (dt.timedelta(seconds=45, milliseconds=999), "45 s"),  # under a second: left out
        (0, "0 s"),
    ],
)
def test_a_duration_in_its_non_zero_units(value, expected):
    assert format_duration(value) == expected


def test_a_duration_is_never_negative_nor_a_float():
    with pytest.raises(ValueError, match="negative"):
        format_duration(dt.timedelta(seconds=-1))
    with pytest.raises(TypeError):
        format_duration(1.5)
