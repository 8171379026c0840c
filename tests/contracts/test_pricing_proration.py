"""Proration: recurring lines scale with the share of the period; usage lines do not, but
their included units, minimum and maximum do. Mid-period amendments.

Every expected amount is worked out by hand in the comment next to it.
"""

from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from contracts.pricing import (
    ChargeType,
    FlatFee,
    Graduated,
    PerUnit,
    PricingError,
    PricingTypeError,
    StepKind,
    Tier,
    price,
    prorate_amendment,
)

SEATS = PerUnit(currency="USD", unit_price=D(30), charge_type=ChargeType.RECURRING)
CALLS = PerUnit(currency="USD", unit_price=D("0.10"))  # USAGE is the default


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (F(1), "300.00"),  # 10 seats x 30
        (F(1, 3), "100.00"),  # 300 x 1/3
        (F(17, 30), "170.00"),  # 17 of 30 days: 300 x 17/30
        (F(1, 7), "42.86"),  # 300 / 7 = 42.857142... -> 42.86
        (F(0), "0.00"),
    ],
)
def test_recurring_seats_scale_with_the_share(share, expected):
    assert str(price(SEATS, quantity=D(10), share=share).amount) == expected


def test_proration_is_one_explained_step_before_the_single_rounding():
    result = price(SEATS, quantity=D(10), share=F(1, 7))
    assert [s.kind for s in result.steps] == [StepKind.UNITS, StepKind.PRORATION]
    assert result.steps[1].description == "Prorated to 1/7 of the period: 300 x 1/7"
    assert result.unrounded_amount.quantize(D("0.000001")) == D("42.857143")


@pytest.mark.parametrize(
    ("currency", "fee", "share", "expected"),
    [
        ("JPY", "1000", F(1, 3), "333"),  # 333.33... -> 333
        ("JPY", "1000", F(2, 3), "667"),  # 666.66... -> 667
        ("KWD", "12.345", F(1, 2), "6.173"),  # 6.1725 -> 6.173 (half-up)
        ("USD", "99.99", F(15, 31), "48.38"),  # 99.99 x 15/31 = 48.3822... -> 48.38
    ],
)
def test_flat_fee_proration_in_each_currency(currency, fee, share, expected):
    result = price(FlatFee(currency=currency, amount=D(fee)), share=share)
    assert str(result.amount) == expected


def test_usage_is_not_prorated():
    # 100 calls x 0.10 = 10.00, whatever part of the period the line covers
    assert price(CALLS, quantity=D(100), share=F(1, 2)).amount == D("10.00")
    assert not any(
        s.kind is StepKind.PRORATION for s in price(CALLS, quantity=D(100), share=F(1, 2)).steps
    )


def test_usage_tier_bounds_do_not_move_with_the_share():
    tiers = (Tier(up_to=D(100), unit_price=D("0.10")), Tier(up_to=None, unit_price=D("0.05")))
    item = Graduated(currency="USD", tiers=tiers)
    # 100 x 0.10 + 50 x 0.05 = 12.50, for a half period as for a whole one
    assert price(item, quantity=D(150), share=F(1, 2)).amount == D("12.50")


def test_usage_included_units_scale_with_the_share():
    item = PerUnit(currency="USD", unit_price=D("0.10"), included_units=D(1000))
    # whole period: 800 < 1000 free -> 0.00
    assert price(item, quantity=D(800)).amount == D("0.00")
    # half period: 500 free; (800 - 500) x 0.10 = 30.00
    result = price(item, quantity=D(800), share=F(1, 2))
    assert result.amount == D("30.00")
    assert (
        result.steps[0].description
        == "500 units included free (1/2 of the period's 1,000); 500 used"
    )


def test_usage_minimum_and_maximum_scale_with_the_share():
    item = PerUnit(currency="USD", unit_price=D("0.10"), minimum=D(50), maximum=D(100))
    # half period: minimum 25; 100 x 0.10 = 10 -> 25.00
    assert price(item, quantity=D(100), share=F(1, 2)).amount == D("25.00")
    # quarter period: maximum 25; 500 x 0.10 = 50 -> 25.00
    assert price(item, quantity=D(500), share=F(1, 4)).amount == D("25.00")


def test_recurring_minimum_applies_to_the_whole_period_then_prorates():
    item = PerUnit(
        currency="USD", unit_price=D(10), minimum=D(100), charge_type=ChargeType.RECURRING
    )
    # 3 seats x 10 = 30 -> minimum 100 -> x 1/2 = 50.00
    assert price(item, quantity=D(3), share=F(1, 2)).amount == D("50.00")


def test_recurring_included_units_do_not_scale():
    item = PerUnit(
        currency="USD", unit_price=D(10), included_units=D(5), charge_type=ChargeType.RECURRING
    )
    # (8 - 5) seats x 10 = 30 -> x 1/2 = 15.00
    assert price(item, quantity=D(8), share=F(1, 2)).amount == D("15.00")


@pytest.mark.parametrize("bad", [F(3, 2), F(-1, 2), -1])
def test_share_is_between_0_and_1(bad):
    with pytest.raises(PricingError) as caught:
        price(SEATS, quantity=D(1), share=bad)
    assert caught.value.field == "share"


def test_share_is_never_a_float():
    with pytest.raises(PricingTypeError):
        price(SEATS, quantity=D(1), share=0.5)


def test_amendment_credits_unused_old_terms_and_charges_new_terms():
    old = PerUnit(currency="USD", unit_price=D(10), charge_type=ChargeType.RECURRING)
    new = PerUnit(currency="USD", unit_price=D(12), charge_type=ChargeType.RECURRING)
    amendment = prorate_amendment(
        old_item=old, new_item=new, quantity_old=D(5), quantity_new=D(8), share_remaining=F(1, 3)
    )
    # old: 5 x 10 = 50 billed in advance; unused third: -50/3 = -16.666... -> -16.67
    assert amendment.credit.amount == D("-16.67")
    # new: 8 x 12 = 96 for the remaining third: 32.00
    assert amendment.charge.amount == D("32.00")
    # the customer pays 50.00 - 16.67 + 32.00 = 65.33
    # (exactly: 50 x 2/3 + 96 x 1/3 = 33.333... + 32 = 65.333...)
    assert D(50) + sum(line.amount for line in amendment.lines) == D("65.33")
    assert amendment.credit.steps[0].description.startswith("Credit for unused time")


def test_amendment_of_a_flat_fee_upgrade():
    amendment = prorate_amendment(
        old_item=FlatFee(currency="USD", amount=D(100)),
        new_item=FlatFee(currency="USD", amount=D(300)),
        share_remaining=F(1, 2),
    )
    # -100 x 1/2 and +300 x 1/2
    assert [line.amount for line in amendment.lines] == [D("-50.00"), D("150.00")]


def test_amendment_refuses_usage_items():
    with pytest.raises(PricingError) as caught:
        prorate_amendment(
            old_item=CALLS,
            new_item=SEATS,
            quantity_old=D(1),
            quantity_new=D(1),
            share_remaining=F(1, 2),
        )
    assert caught.value.field == "old_item"


def test_amendment_refuses_a_change_of_currency():
    with pytest.raises(PricingError) as caught:
        prorate_amendment(
            old_item=FlatFee(currency="USD", amount=D(1)),
            new_item=FlatFee(currency="EUR", amount=D(1)),
            share_remaining=F(1, 2),
        )
    assert caught.value.field == "new_item.currency"
