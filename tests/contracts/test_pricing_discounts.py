"""Discounts: percentage or fixed, line or contract, for N periods, a date range or the term.

Every expected amount is worked out by hand in the comment next to it.
"""

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from contracts.pricing import (
    Discount,
    DiscountKind,
    DiscountScope,
    FlatFee,
    PricingError,
    apply_contract_discount,
    apply_discount,
    discount_is_active,
    price,
)


def percent(value: str, currency: str = "USD", **duration) -> Discount:
    return Discount(currency=currency, kind=DiscountKind.PERCENTAGE, value=D(value), **duration)


def fixed(value: str, currency: str = "USD", **duration) -> Discount:
    return Discount(currency=currency, kind=DiscountKind.FIXED, value=D(value), **duration)


@pytest.mark.parametrize(
    ("discount", "amount", "expected"),
    [
        (percent("10"), "250.00", "-25.00"),  # 10% of 250
        (percent("15"), "33.33", "-5.00"),  # 15% of 33.33 = 4.9995 -> 5.00
        (percent("100"), "80.00", "-80.00"),  # free
        (fixed("50"), "200.00", "-50.00"),
        (fixed("50"), "30.00", "-30.00"),  # capped at the amount: never a credit
        (percent("10", "JPY"), "1005", "-101"),  # 100.5 -> 101 yen
        (percent("12.5", "KWD"), "1.001", "-0.125"),  # 0.125125 -> 0.125
        (percent("10"), "0.00", "0.00"),  # nothing to discount
    ],
)
def test_apply_discount(discount, amount, expected):
    assert str(apply_discount(discount, amount=D(amount)).amount) == expected


def test_discount_on_a_priced_line():
    line = price(FlatFee(currency="USD", amount=D("49.99")))
    discount = apply_discount(percent("20"), amount=line.amount)
    # 49.99 x 20% = 9.998 -> 10.00; the customer pays 49.99 - 10.00 = 39.99
    assert line.amount + discount.amount == D("39.99")
    assert discount.steps[0].description == "20% discount on $49.99"


def test_fixed_discount_cap_is_explained():
    result = apply_discount(fixed("50"), amount=D(30))
    assert result.steps[0].description == "Fixed discount of $50.00 (capped at the amount $30.00)"


def test_contract_discount_applies_to_the_sum_of_rounded_lines():
    lines = [
        price(FlatFee(currency="USD", amount=D(100))),
        price(FlatFee(currency="USD", amount=D("50.55"))),
    ]
    discount = Discount(
        currency="USD", kind=DiscountKind.PERCENTAGE, value=D(20), scope=DiscountScope.CONTRACT
    )
    # (100.00 + 50.55) x 20% = 30.11
    assert apply_contract_discount(discount, lines=lines).amount == D("-30.11")


def test_contract_discount_refuses_lines_of_another_currency():
    with pytest.raises(PricingError) as caught:
        apply_contract_discount(percent("5"), lines=[price(FlatFee(currency="EUR", amount=D(1)))])
    assert caught.value.field == "lines[0].currency"


def test_discount_for_the_first_n_periods():
    discount = percent("10", periods=3)
    start = date(2025, 1, 1)
    assert [discount_is_active(discount, period_index=i, period_start=start) for i in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("period_start", "active"),
    [
        (date(2024, 12, 1), False),
        (date(2025, 1, 1), True),  # the range starts on its first day
        (date(2025, 3, 1), True),
        (date(2025, 4, 1), False),  # [starts_on, ends_on): the end is excluded
    ],
)
def test_discount_for_a_date_range(period_start, active):
    discount = fixed("5", starts_on=date(2025, 1, 1), ends_on=date(2025, 4, 1))
    assert discount_is_active(discount, period_index=7, period_start=period_start) is active


def test_discount_for_the_whole_term_and_open_ended():
    assert discount_is_active(percent("5"), period_index=120, period_start=date(2035, 1, 1))
    from_march = percent("5", starts_on=date(2025, 3, 1))
    assert not discount_is_active(from_march, period_index=1, period_start=date(2025, 2, 1))
    assert discount_is_active(from_march, period_index=30, period_start=date(2027, 8, 1))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: percent("0"), "value"),
        (lambda: percent("150"), "value"),
        (lambda: fixed("-1"), "value"),
        (lambda: percent("5", periods=0), "periods"),
        (lambda: percent("5", periods=2, starts_on=date(2025, 1, 1)), "periods"),
        (lambda: percent("5", starts_on=date(2025, 2, 1), ends_on=date(2025, 1, 1)), "ends_on"),
        (lambda: percent("5", starts_on=datetime(2025, 1, 1)), "starts_on"),  # noqa: DTZ001
        (lambda: percent("5", "usd"), "currency"),
    ],
)
def test_discount_validation_names_the_field(build, field):
    with pytest.raises(PricingError) as caught:
        build()
    assert caught.value.field == field
