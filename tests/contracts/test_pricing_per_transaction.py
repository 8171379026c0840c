"""A percentage priced per transaction, the way a card processor charges: each transaction
costs clamp(percent x amount + fixed fee, minimum, maximum), the first N of the period are
free, the fees are summed unrounded and the line is rounded once."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.price_config import spec_from_config
from contracts.pricing import (
    Percentage,
    PricingError,
    StepKind,
    Transaction,
    price,
    transaction_fee,
)
from zenskar.money import round_money

CARD = Percentage(currency="USD", percent=D("2.9"), fixed_fee=D("0.30"), free_transactions=3,
                  minimum_per_transaction=D("0.50"), maximum_per_transaction=D("10.00"))


def transactions(*amounts: str) -> list[Transaction]:
    return [Transaction(id=f"t{i + 1:02d}", amount=D(a)) for i, a in enumerate(amounts)]


def test_each_transaction_is_clamped_and_the_line_rounded_once():
    # t01-t03 free; then
    # t04   5.00: 0.145 + 0.30 = 0.445 -> raised to 0.50
    # t05  10.50: 0.3045 + 0.30 = 0.6045
    # t06  10.50: 0.6045
    # t07 400.00: 11.60 + 0.30 = 11.90 -> capped at 10.00
    # t08 120.00: 3.48 + 0.30 = 3.78
    # sum 0.50 + 0.6045 + 0.6045 + 10.00 + 3.78 = 15.489 -> 15.49
    # (each fee rounded first: 0.50 + 0.60 + 0.60 + 10.00 + 3.78 = 15.48)
    result = price(CARD, quantity=transactions(
        "100", "500", "1000", "5.00", "10.50", "10.50", "400.00", "120.00"))
    assert result.unrounded_amount == D("15.489")
    assert result.amount == D("15.49")
    assert [(s.kind, s.quantity, s.amount) for s in result.steps] == [
        (StepKind.FREE_TRANSACTIONS, 3, 0),
        # 2.9% of 5 + 10.5 + 10.5 + 400 + 120 = 546.00 -> 15.834
        (StepKind.PERCENTAGE, D("546.00"), D("15.83400")),
        (StepKind.TRANSACTION_FEE, 5, D("1.50")),  # 5 x 0.30
        (StepKind.TRANSACTION_MINIMUM, 1, D("0.055")),  # 0.50 - 0.445
        (StepKind.TRANSACTION_MAXIMUM, 1, D("-1.90")),  # 10.00 - 11.90
    ]
    descriptions = [s.description for s in result.steps]
    assert descriptions[0] == ("First 3 of 8 transactions free, the earliest (t01, t02, t03): "
                               "$1,600.00 not charged")
    assert descriptions[3] == "1 transaction raised to the minimum fee of $0.50 each (t04)"
    assert descriptions[4] == "1 transaction capped at the maximum fee of $10.00 each (t07)"


def test_fewer_transactions_than_the_free_ones_cost_nothing():
    result = price(CARD, quantity=transactions("999.99", "5"))
    assert result.amount == D("0.00")
    [free] = result.steps
    assert free.description == ("First 2 of 2 transactions free, the earliest (t01, t02): "
                                "$1,004.99 not charged")


def test_no_transaction_is_no_charge_unless_the_line_has_a_minimum():
    assert [s.kind for s in price(CARD, quantity=[]).steps] == [StepKind.NO_CHARGE]
    floor = Percentage(currency="USD", percent=D("2.9"), fixed_fee=D("0.30"),
                       minimum=D("25.00"))
    # no transaction: the line's minimum per period still applies
    assert price(floor, quantity=[]).amount == D("25.00")


def test_the_line_minimum_and_maximum_apply_to_the_sum_of_the_fees():
    capped = Percentage(currency="USD", percent=D("2.9"), fixed_fee=D("0.30"),
                        maximum=D("1.00"))
    # 2 x (2.9 + 0.30) = 6.40, capped at the line's 1.00
    assert price(capped, quantity=transactions("100", "100")).amount == D("1.00")


def test_a_negative_amount_costs_nothing_without_a_minimum():
    plain = Percentage(currency="USD", percent=D("2.9"), fixed_fee=D("0.30"))
    # 100: 2.90 + 0.30 = 3.20; -100 (a correction): -2.90 + 0.30 = -2.60 -> 0
    result = price(plain, quantity=transactions("100", "-100"))
    assert result.amount == D("3.20")
    assert result.steps[-1].description == (
        "1 transaction of a negative amount charged nothing (a fee is never negative) (t02)")


def test_the_input_is_read_once_from_a_stream():
    stream = iter(transactions(*["10"] * 1000))
    # 997 charged after the 3 free: 2.9% of 10 + 0.30 = 0.59 each -> 588.23
    assert price(CARD, quantity=stream).amount == D("588.23")
    assert next(stream, None) is None


def test_a_jpy_line_rounds_to_whole_yen_once():
    yen = Percentage(currency="JPY", percent=D("3.6"), fixed_fee=D("10"))
    # 1234: 44.424 + 10 = 54.424; 999: 35.964 + 10 = 45.964; 100.388 -> 100
    assert price(yen, quantity=transactions("1234", "999")).amount == D("100")


def test_the_per_transaction_input_is_checked():
    with pytest.raises(PricingError) as caught:
        price(CARD, quantity=D("100"))
    assert caught.value.field == "quantity"
    with pytest.raises(PricingError) as caught:
        price(CARD, quantity=[Transaction(id="t1", amount=D(1)), D(2)])
    assert caught.value.field == "quantity[1]"


@pytest.mark.parametrize(("config", "field", "code"), [
    ({"percent": "2.9", "free_transactions": "-1"}, "free_transactions", "invalid_type"),
    ({"percent": "2.9", "free_transactions": 2.5}, "free_transactions", "invalid_type"),
    ({"percent": "2.9", "free_transactions": 10**10}, "free_transactions", "out_of_bounds"),
    ({"percent": "2.9", "fixed_fee": "-0.30"}, "fixed_fee", "out_of_bounds"),
    ({"percent": "2.9", "fixed_fee": "1e16"}, "fixed_fee", "out_of_bounds"),
    ({"percent": "2.9", "fixed_fee": "0.000000000001"}, "fixed_fee", "too_many_decimals"),
    ({"percent": "2.9", "minimum_per_transaction": "1", "maximum_per_transaction": "0.5"},
     "maximum_per_transaction", "out_of_bounds"),
    ({"percent": "2.9", "fixed_fee": "0.30", "included_units": "100"}, "included_units",
     "invalid_combination"),
    ({"percent": "2.9", "per_transaction": "0.30"}, "per_transaction", "unknown_field"),
], ids=["negative-free", "fractional-free", "too-many-free", "negative-fee", "fee-too-large",
        "fee-too-precise", "max-below-min", "included-units", "unknown-key"])
def test_bad_parameters_name_their_field(config, field, code):
    with pytest.raises(PricingError) as caught:
        spec_from_config(model="percentage", config=config, currency="USD", metered=True)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_free_transactions_may_be_a_number_or_its_text():
    for free in (3, "3"):
        spec = spec_from_config(model="percentage", config={"percent": "1", "free_transactions": free},
                                currency="USD", metered=True)
        assert spec.free_transactions == 3
        assert spec.per_transaction


# --- Properties -------------------------------------------------------------------------------

MONEY = st.decimals(min_value=D("-1000"), max_value=D("1000000"), places=2)
FEE = st.decimals(min_value=D(0), max_value=D("100"), places=2)
OPTIONAL_FEE = st.none() | FEE


@st.composite
def card_prices(draw):
    low, high = draw(OPTIONAL_FEE), draw(OPTIONAL_FEE)
    if low is not None and high is not None and high < low:
        low, high = high, low
    return Percentage(
        currency=draw(st.sampled_from(["USD", "JPY", "KWD"])),
        percent=draw(st.decimals(min_value=D(0), max_value=D(100), places=3)),
        fixed_fee=draw(st.none() | FEE), free_transactions=draw(st.integers(0, 12)),
        minimum_per_transaction=low, maximum_per_transaction=high)


def clamped(item: Percentage, amount: D) -> D:
    """The fee of one transaction, written out again from its definition."""
    fee = item.percent / 100 * amount + (item.fixed_fee or 0)
    fee = max(fee, item.minimum_per_transaction if item.minimum_per_transaction is not None
              else D(0))
    return fee if item.maximum_per_transaction is None else min(fee,
                                                                item.maximum_per_transaction)


@settings(max_examples=300, deadline=None)
@given(item=card_prices(), amounts=st.lists(MONEY, max_size=30))
def test_the_line_is_the_sum_of_the_clamped_fees_rounded_once(item, amounts):
    txs = transactions(*map(str, amounts))
    result = price(item, quantity=txs)
    charged = amounts[item.free_transactions:]
    expected = sum((clamped(item, a) for a in charged), D(0))
    assert result.unrounded_amount == expected
    assert result.amount == round_money(expected, item.currency)
    assert result.amount >= 0
    assert sum(s.amount for s in result.steps) == result.unrounded_amount
    assert all(transaction_fee(item, a) == clamped(item, a) for a in charged)


@settings(max_examples=200, deadline=None)
@given(item=card_prices(), amounts=st.lists(MONEY, max_size=20), free=st.lists(MONEY, max_size=12))
def test_the_free_transactions_cost_nothing_whatever_their_amounts(item, amounts, free):
    """The first N transactions may be anything: the line is what the others cost."""
    n = item.free_transactions
    head = (free + ["0"] * n)[:n]
    with_free = price(item, quantity=transactions(*map(str, [*head, *amounts])))
    others = sum((clamped(item, a) for a in amounts), D(0))
    assert with_free.unrounded_amount == others
