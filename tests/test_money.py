"""zenskar.money: minor units, the one rounding rule, formatting and the Money value."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zenskar.money import (
    CurrencyMismatchError,
    Money,
    as_decimal,
    format_money,
    is_valid_currency,
    minor_units,
    round_money,
)


@pytest.mark.parametrize(("code", "digits"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_minor_units_follow_iso_4217(code, digits):
    assert minor_units(code) == digits


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "ZZZ", "", None])
def test_unknown_or_lower_case_codes_are_not_currencies(code):
    assert is_valid_currency(code) is False


def test_minor_units_of_an_unknown_code_raises_instead_of_guessing_two():
    with pytest.raises(ValueError, match="unknown currency"):
        minor_units("ZZZ")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # USD, 2 digits: the third digit decides; 5 goes up.
        ("1.005", "USD", "1.01"),
        ("1.004", "USD", "1.00"),
        ("2.675", "USD", "2.68"),  # the classic float trap: 2.675 is 2.67499... as a float
        ("0.125", "USD", "0.13"),  # half-even would give 0.12
        # JPY, 0 digits: whole yen.
        ("0.5", "JPY", "1"),
        ("2.5", "JPY", "3"),  # half-even would give 2
        ("2.4999", "JPY", "2"),
        # KWD, 3 digits: fils.
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
        # Negative amounts mirror positive ones: ties go away from zero.
        ("-1.005", "USD", "-1.01"),
        ("-2.5", "JPY", "-3"),
    ],
)
def test_round_money_is_half_up_to_the_currency_exponent(amount, currency, expected):
    result = round_money(Decimal(amount), currency)
    assert result == Decimal(expected)
    assert str(result) == expected  # the exponent too: USD always has two places


@settings(deadline=None, database=None)
@given(
    amount=st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    currency=st.sampled_from(["JPY", "USD", "KWD"]),
)
def test_round_money_moves_an_amount_by_at_most_half_a_minor_unit(amount, currency):
    rounded = round_money(amount, currency)
    half_unit = Decimal(1).scaleb(-minor_units(currency)) / 2
    assert abs(rounded - amount) <= half_unit
    assert round_money(rounded, currency) == rounded  # rounding twice changes nothing


def test_round_money_never_returns_negative_zero():
    assert str(round_money(Decimal("-0.004"), "USD")) == "0.00"


def test_round_money_keeps_whole_amounts_at_the_currency_scale():
    assert str(round_money(Decimal(7), "KWD")) == "7.000"
    assert str(round_money(Decimal("7.00"), "JPY")) == "7"


@pytest.mark.parametrize("bad", [1.005, 0.1])
def test_round_money_rejects_float(bad):
    with pytest.raises(TypeError, match="float"):
        round_money(bad, "USD")


def test_money_rejects_float_amounts():
    with pytest.raises(TypeError, match="float"):
        Money(0.1, "USD")


def test_as_decimal_accepts_exact_inputs_and_rejects_float_and_bool():
    assert as_decimal("0.10") == Decimal("0.10")
    assert as_decimal(3) == Decimal(3)
    with pytest.raises(TypeError):
        as_decimal(0.1)
    with pytest.raises(TypeError):
        as_decimal(True)
    with pytest.raises(ValueError, match="finite"):
        as_decimal("NaN")


def test_money_adds_and_subtracts_in_one_currency():
    total = Money(Decimal("10.10"), "USD") + Money(Decimal("0.905"), "USD")
    assert total == Money(Decimal("11.005"), "USD")  # unrounded: precision is kept
    assert total.rounded() == Money(Decimal("11.01"), "USD")  # 11.005 -> 11.01, half-up
    assert Money(Decimal(5), "USD") - Money(Decimal(7), "USD") == Money(Decimal(-2), "USD")
    assert -Money(Decimal(5), "USD") == Money(Decimal(-5), "USD")


def test_money_of_two_currencies_never_adds():
    with pytest.raises(CurrencyMismatchError, match="USD and EUR"):
        Money(Decimal(1), "USD") + Money(Decimal(1), "EUR")
    with pytest.raises(CurrencyMismatchError):
        Money(Decimal(1), "USD") - Money(Decimal(1), "JPY")


def test_money_does_not_add_a_bare_number():
    with pytest.raises(TypeError):
        Money(Decimal(1), "USD") + Decimal(1)


def test_money_rejects_an_unknown_currency():
    with pytest.raises(ValueError, match="unknown currency"):
        Money(Decimal(1), "usd")


def test_money_zero_and_serialization():
    assert Money.zero("KWD") == Money(Decimal(0), "KWD")
    assert Money(Decimal("1E+2"), "USD").to_dict() == {"amount": "100", "currency": "USD"}
    assert Money(Decimal("12.3400"), "USD").rounded().to_dict() == {
        "amount": "12.34",
        "currency": "USD",
    }


def test_money_is_immutable():
    money = Money(Decimal(1), "USD")
    with pytest.raises(AttributeError):
        money.amount = Decimal(2)


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        ("1234.5", "USD", "en_US", "$1,234.50"),
        ("1234.5", "JPY", "en_US", "¥1,235"),  # rounded half-up first: 1234.5 -> 1235
        ("1234.5675", "KWD", "en_US", "KWD1,234.568"),
        ("1234.5", "EUR", "de_DE", "1.234,50\xa0€"),
        ("-3.005", "USD", "en_US", "-$3.01"),
    ],
)
def test_format_money_rounds_then_formats_per_locale(amount, currency, locale, expected):
    assert format_money(Decimal(amount), currency, locale=locale) == expected
