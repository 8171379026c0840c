"""Prepaid commitments drawn down by usage, and minimum-spend true-ups.

Every expected amount is worked out by hand in the comment next to it.
"""

from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from contracts.pricing import (
    MinimumCommitment,
    PrepaidCredit,
    PrepaidUnits,
    PricingError,
    StepKind,
    draw_down,
    prepaid_purchase,
    true_up,
)

# 100 compute hours for 20.00; beyond them 0.25 per hour.
HOURS = PrepaidUnits(currency="USD", units=D(100), price=D(20), overage_unit_price=D("0.25"))


def test_buying_the_block():
    assert prepaid_purchase(HOURS).amount == D("20.00")
    assert prepaid_purchase(HOURS, blocks=3).amount == D("60.00")  # 3 x 20
    assert prepaid_purchase(HOURS).steps[0].kind is StepKind.PURCHASE


@pytest.mark.parametrize(
    ("usage", "balance", "drawn", "after", "overage", "amount"),
    [
        ("60", "100", "60", "40", "0", "0.00"),  # covered: 100 - 60 = 40 left
        ("100", "100", "100", "0", "0", "0.00"),  # exactly used up
        ("120", "100", "100", "0", "20", "5.00"),  # 20 over x 0.25
        ("30", "25.5", "25.5", "0", "4.5", "1.13"),  # 4.5 x 0.25 = 1.125 -> 1.13
        ("10", "0", "0", "0", "10", "2.50"),  # nothing left: all overage, 10 x 0.25
        ("0", "40", "0", "40", "0", "0.00"),  # no usage
    ],
)
def test_prepaid_units_draw_down(usage, balance, drawn, after, overage, amount):
    result = draw_down(HOURS, usage=D(usage), balance=D(balance))
    assert result.drawn == D(drawn)
    assert result.balance_after == D(after)
    assert result.overage_units == D(overage)
    assert str(result.result.amount) == amount


def test_overage_is_explained():
    result = draw_down(HOURS, usage=D(120), balance=D(100)).result
    assert [s.kind for s in result.steps] == [StepKind.DRAWDOWN, StepKind.OVERAGE]
    assert result.steps[1].description == "20 units over the prepaid balance x $0.25"


# Pay 900.00 for 1000.00 of credit; calls cost 0.002 from the credit, 0.0025 beyond it.
CREDIT = PrepaidCredit(
    currency="USD",
    credit=D(1000),
    price=D(900),
    unit_price=D("0.002"),
    overage_unit_price=D("0.0025"),
)


def test_buying_credit():
    assert prepaid_purchase(CREDIT).amount == D("900.00")


def test_prepaid_credit_covered():
    result = draw_down(CREDIT, usage=D(100_000), balance=D(1000))
    # 100000 x 0.002 = 200.00 drawn; 800.00 left
    assert (result.drawn, result.balance_after, result.result.amount) == (
        D("200.00"),
        D("800.00"),
        D("0.00"),
    )


def test_prepaid_credit_overage_at_the_overage_rate():
    result = draw_down(CREDIT, usage=D(600_000), balance=D(1000))
    # 600000 x 0.002 = 1200 > 1000: all 1000 drawn, covering 1000 / 0.002 = 500000 calls;
    # 100000 calls over x 0.0025 = 250.00
    assert result.drawn == D(1000)
    assert result.balance_after == D(0)
    assert result.overage_units == D(100_000)
    assert result.result.amount == D("250.00")


def test_prepaid_credit_overage_defaults_to_the_same_rate():
    item = PrepaidCredit(currency="USD", credit=D(1000), price=D(1000), unit_price=D("0.002"))
    # 100000 calls over x 0.002 = 200.00
    assert draw_down(item, usage=D(600_000), balance=D(1000)).result.amount == D("200.00")


def test_prepaid_credit_draws_whole_cents():
    item = PrepaidCredit(currency="USD", credit=D(10), price=D(10), unit_price=D("0.0015"))
    result = draw_down(item, usage=D(7), balance=D(10))
    # 7 x 0.0015 = 0.0105 -> 0.01 drawn; 9.99 left
    assert (result.drawn, result.balance_after) == (D("0.01"), D("9.99"))


def test_prepaid_credit_in_yen():
    item = PrepaidCredit(currency="JPY", credit=D(10_000), price=D(9_000), unit_price=D("0.3"))
    result = draw_down(item, usage=D(40_001), balance=D(10_000))
    # 40001 x 0.3 = 12000.3 -> 12000 > 10000: 10000 drawn, covering 33333.33... calls;
    # 40001 - 33333.33... = 6667.66... calls x 0.3 = 2000.3 -> 2000 yen
    assert result.drawn == D(10_000)
    assert result.result.amount == D(2000)


def test_draw_down_refuses_negative_inputs():
    with pytest.raises(PricingError) as caught:
        draw_down(HOURS, usage=D(-1), balance=D(10))
    assert caught.value.field == "usage"


# Commit to spend at least 1000.00 per month.
MONTHLY = MinimumCommitment(currency="USD", amount=D(1000))


def test_true_up_bills_the_shortfall():
    result = true_up(MONTHLY, usage_charges=[D("300.50"), D("200.00")])
    # 1000 - (300.50 + 200.00) = 499.50
    assert result.amount == D("499.50")
    assert result.steps[0].kind is StepKind.TRUE_UP
    assert result.steps[0].description == "Minimum spend $1,000.00; usage charges $500.50; true-up $499.50"


def test_no_true_up_when_the_commitment_is_met():
    result = true_up(MONTHLY, usage_charges=[D(700), D(400)])  # 1100 >= 1000
    assert result.amount == D("0.00")
    assert "commitment met" in result.steps[0].description


def test_true_up_with_no_usage_is_the_whole_commitment():
    assert true_up(MONTHLY, usage_charges=[]).amount == D("1000.00")


def test_true_up_of_a_partial_period_scales_the_commitment():
    # half a month commits 500; 500 - 300 = 200.00
    assert true_up(MONTHLY, usage_charges=[D(300)], share=F(1, 2)).amount == D("200.00")


def test_true_up_in_yen():
    commitment = MinimumCommitment(currency="JPY", amount=D(100_000))
    # a third of a period: 33333.33... - 0 -> 33333 yen
    assert true_up(commitment, usage_charges=[], share=F(1, 3)).amount == D(33_333)
