"""Properties of the pricing engine, checked with Hypothesis over generated specs.

The expectations here are restatements of the rules (what volume pricing means, what a
share of a period means), not copies of the engine's code.
"""

import json
from decimal import Decimal as D
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.pricing import (
    ChargeType,
    FlatFee,
    Graduated,
    Package,
    PerUnit,
    PrepaidUnits,
    Tier,
    Volume,
    draw_down,
    price,
    prorate_amendment,
)
from zenskar.money import minor_units, round_money

PROPERTY = settings(deadline=None, database=None)

CURRENCIES = st.sampled_from(["JPY", "USD", "KWD"])
PRICES = st.decimals(min_value=0, max_value=1000, places=4)
FLAT_FEES = st.decimals(min_value=0, max_value=500, places=2)
QUANTITIES = st.decimals(min_value=0, max_value=100_000, places=3)
SHARES = st.fractions(min_value=0, max_value=1, max_denominator=366)


def minor_unit(currency: str) -> D:
    return D(1).scaleb(-minor_units(currency))


@st.composite
def tier_tables(draw, *, flat_fees: bool = True) -> tuple[Tier, ...]:
    bounds = draw(
        st.lists(
            st.decimals(min_value=D("0.5"), max_value=10_000, places=1),
            max_size=4,
            unique=True,
        )
    )
    return tuple(
        Tier(
            up_to=up_to,
            unit_price=draw(PRICES),
            flat_fee=draw(FLAT_FEES) if flat_fees else D(0),
        )
        for up_to in [*sorted(bounds), None]
    )


@st.composite
def quantity_near_bounds(draw, tiers: tuple[Tier, ...]) -> D:
    """Any quantity, or one exactly at, just below or just above a tier bound."""
    bounds = [tier.up_to for tier in tiers if tier.up_to is not None]
    if bounds and draw(st.booleans()):
        bound = draw(st.sampled_from(bounds))
        return max(bound + draw(st.sampled_from([D("-0.001"), D(0), D("0.001")])), D(0))
    return draw(QUANTITIES)


@st.composite
def recurring_lines(draw, currency: str):
    """A recurring (advance-billed) item and the quantity it is priced on."""
    recurring = ChargeType.RECURRING
    kind = draw(st.sampled_from(["flat", "seats", "graduated", "volume", "package"]))
    if kind == "flat":
        return FlatFee(currency=currency, amount=draw(PRICES)), None
    quantity = draw(st.integers(min_value=0, max_value=500).map(D))
    if kind == "seats":
        item = PerUnit(currency=currency, unit_price=draw(PRICES), charge_type=recurring)
    elif kind == "graduated":
        item = Graduated(currency=currency, tiers=draw(tier_tables()), charge_type=recurring)
    elif kind == "volume":
        item = Volume(currency=currency, tiers=draw(tier_tables()), charge_type=recurring)
    else:
        size = draw(st.integers(min_value=1, max_value=50).map(D))
        item = Package(
            currency=currency, package_size=size, package_price=draw(PRICES), charge_type=recurring
        )
    return item, quantity


@PROPERTY
@given(currency=CURRENCIES, tiers=tier_tables(), data=st.data())
def test_graduated_cost_never_decreases_with_quantity(currency, tiers, data):
    item = Graduated(currency=currency, tiers=tiers)
    low, high = sorted(
        [data.draw(quantity_near_bounds(tiers)), data.draw(quantity_near_bounds(tiers))]
    )
    cheaper, dearer = price(item, quantity=low), price(item, quantity=high)
    assert cheaper.unrounded_amount <= dearer.unrounded_amount
    assert cheaper.amount <= dearer.amount


@PROPERTY
@given(currency=CURRENCIES, tiers=tier_tables(), data=st.data())
def test_volume_is_quantity_times_the_reached_tier_price_plus_its_flat_fee(currency, tiers, data):
    quantity = data.draw(quantity_near_bounds(tiers))
    # The reached tier: the first whose bound the quantity does not exceed (0 reaches none).
    reached = next(t for t in tiers if t.up_to is None or quantity <= t.up_to)
    expected = D(0) if quantity == 0 else quantity * reached.unit_price + reached.flat_fee
    result = price(Volume(currency=currency, tiers=tiers), quantity=quantity)
    assert result.unrounded_amount == expected
    assert result.amount == round_money(expected, currency)


@PROPERTY
@given(
    currency=CURRENCIES,
    data=st.data(),
    weights=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=12),
)
def test_prorated_pieces_sum_to_the_whole_period_within_a_minor_unit_each(currency, data, weights):
    item, quantity = data.draw(recurring_lines(currency))
    shares = [F(weight, sum(weights)) for weight in weights]  # they sum to exactly 1
    pieces = [price(item, quantity=quantity, share=share) for share in shares]
    whole = price(item, quantity=quantity)
    assert abs(sum(p.amount for p in pieces) - whole.amount) <= len(pieces) * minor_unit(currency)
    # Before rounding the pieces add up to the whole (to Decimal's 28 digits).
    assert abs(sum(p.unrounded_amount for p in pieces) - whole.unrounded_amount) < D("1E-18")


@PROPERTY
@given(currency=CURRENCIES, data=st.data(), used=SHARES)
def test_amendment_bills_old_terms_up_to_the_change_and_new_terms_after(currency, data, used):
    old_item, old_quantity = data.draw(recurring_lines(currency))
    new_item, new_quantity = data.draw(recurring_lines(currency))
    remaining = 1 - used
    advance = price(old_item, quantity=old_quantity)  # billed at the start of the period
    amendment = prorate_amendment(
        old_item=old_item,
        new_item=new_item,
        quantity_old=old_quantity,
        quantity_new=new_quantity,
        share_remaining=remaining,
    )
    billed = advance.amount + amendment.credit.amount + amendment.charge.amount
    old_full = F(advance.unrounded_amount)
    new_full = F(price(new_item, quantity=new_quantity).unrounded_amount)
    exact = old_full * used + new_full * remaining
    # Three rounded lines (advance, credit, charge), each off by at most half a minor unit.
    assert abs(F(billed) - exact) <= F(3, 2) * F(minor_unit(currency))


@PROPERTY
@given(currency=CURRENCIES, data=st.data(), share=SHARES)
def test_every_result_is_consistent_and_serializable(currency, data, share):
    usage_item = data.draw(
        st.sampled_from(
            [
                PerUnit(currency=currency, unit_price=D("0.0123"), included_units=D(100)),
                Graduated(currency=currency, tiers=data.draw(tier_tables()), minimum=D(5)),
                Volume(currency=currency, tiers=data.draw(tier_tables()), maximum=D(900)),
                Package(currency=currency, package_size=D(10), package_price=D("2.5")),
            ]
        )
    )
    for item, quantity in [
        (usage_item, data.draw(QUANTITIES)),
        data.draw(recurring_lines(currency)),
    ]:
        result = price(item, quantity=quantity, share=share)
        assert result.unrounded_amount == sum((s.amount for s in result.steps), D(0))
        assert result.amount == round_money(result.unrounded_amount, currency)
        assert result.amount >= 0
        assert result.amount.as_tuple().exponent == -minor_units(currency)
        for step in result.steps:
            if step.unit_price is not None and step.quantity is not None:
                assert step.quantity * step.unit_price == step.amount
        assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


@PROPERTY
@given(usage=QUANTITIES, balance=QUANTITIES)
def test_prepaid_units_are_conserved(usage, balance):
    item = PrepaidUnits(currency="USD", units=D(100), price=D(20), overage_unit_price=D("0.25"))
    result = draw_down(item, usage=usage, balance=balance)
    assert result.drawn + result.balance_after == balance
    assert result.drawn + result.overage_units == usage
    assert result.balance_after >= 0
