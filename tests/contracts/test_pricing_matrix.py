"""Matrix prices (a price per combination) and two-dimensional tiers.

Two-dimensional tiers, as implemented: dimension A (seats) picks a tier table -- the first
whose up_to >= A, A = 0 picking the first -- and that table prices dimension B (API calls).
"""

from decimal import Decimal as D

import pytest

from contracts.pricing import (
    Matrix,
    PricingError,
    StepKind,
    Tier,
    TierMode,
    TierTable,
    TwoDimensionalTiers,
    price,
)

COMPUTE = Matrix(
    currency="USD",
    dimensions=("region", "instance"),
    prices={
        ("us", "small"): D("0.0100"),
        ("us", "large"): D("0.0400"),
        ("eu", "small"): D("0.0120"),
        ("eu", "large"): D("0.0480"),
    },
)


def test_matrix_prices_each_combination():
    usage = {("us", "small"): D(100), ("eu", "large"): D("10.5"), ("us", "large"): D(0)}
    result = price(COMPUTE, quantity=usage)
    # us/small 100 x 0.01 = 1.00; eu/large 10.5 x 0.048 = 0.504; us/large unused.
    # 1.00 + 0.504 = 1.504 -> 1.50
    assert result.amount == D("1.50")
    assert result.unrounded_amount == D("1.504")
    assert [(s.kind, s.description) for s in result.steps] == [
        (StepKind.CELL, "region=eu, instance=large: 10.5 x 0.0480"),
        (StepKind.CELL, "region=us, instance=small: 100 x 0.0100"),
    ]


def test_matrix_with_no_usage():
    assert price(COMPUTE, quantity={}).amount == D("0.00")
    result = price(COMPUTE, quantity={("us", "small"): D(0)})
    assert [s.kind for s in result.steps] == [StepKind.NO_CHARGE]


def test_matrix_refuses_a_combination_without_a_price():
    with pytest.raises(PricingError) as caught:
        price(COMPUTE, quantity={("ap", "small"): D(1)})
    assert caught.value.field == "quantity[('ap', 'small')]"


def test_matrix_with_a_minimum():
    item = Matrix(
        currency="JPY", dimensions=("region",), prices={("jp",): D("1.5")}, minimum=D(100)
    )
    assert price(item, quantity={("jp",): D(10)}).amount == D(100)  # 10 x 1.5 = 15 < 100
    assert price(item, quantity={("jp",): D(101)}).amount == D(152)  # 151.5 -> 152


def test_matrix_takes_a_mapping():
    with pytest.raises(PricingError) as caught:
        price(COMPUTE, quantity=D(1))
    assert caught.value.field == "quantity"


def calls_by_seats(mode: TierMode = TierMode.GRADUATED) -> TwoDimensionalTiers:
    """Up to 10 seats: 0.01 per call to 1000, then 0.005; 11-50 seats: 0.008 then 0.004;
    more than 50 seats: 0.002 per call."""
    return TwoDimensionalTiers(
        currency="USD",
        dimensions=("seats", "calls"),
        mode=mode,
        tables=(
            TierTable(
                up_to=D(10),
                tiers=(
                    Tier(up_to=D(1000), unit_price=D("0.01")),
                    Tier(up_to=None, unit_price=D("0.005")),
                ),
            ),
            TierTable(
                up_to=D(50),
                tiers=(
                    Tier(up_to=D(1000), unit_price=D("0.008")),
                    Tier(up_to=None, unit_price=D("0.004")),
                ),
            ),
            TierTable(up_to=None, tiers=(Tier(up_to=None, unit_price=D("0.002")),)),
        ),
    )


@pytest.mark.parametrize(
    ("seats", "calls", "expected"),
    [
        ("0", "1500", "12.50"),  # table 1: 1000 x 0.01 + 500 x 0.005 = 10 + 2.5
        ("10", "1500", "12.50"),  # 10 seats is still table 1
        ("11", "1500", "10.00"),  # table 2: 1000 x 0.008 + 500 x 0.004 = 8 + 2
        ("50", "1000", "8.00"),  # table 2: 1000 x 0.008
        ("51", "1500", "3.00"),  # table 3: 1500 x 0.002
        ("11", "0", "0.00"),  # no calls
    ],
)
def test_two_dimensional_graduated(seats, calls, expected):
    result = price(calls_by_seats(), quantity={"seats": D(seats), "calls": D(calls)})
    assert str(result.amount) == expected


def test_two_dimensional_volume():
    item = calls_by_seats(TierMode.VOLUME)
    # table 1, tier 2 reached: all 1500 x 0.005
    assert price(item, quantity={"seats": D(10), "calls": D(1500)}).amount == D("7.50")


def test_two_dimensional_breakdown_names_the_selected_table():
    result = price(calls_by_seats(), quantity={"seats": D(11), "calls": D(1500)})
    assert result.steps[0].kind is StepKind.TABLE
    assert (
        result.steps[0].description
        == "seats = 11 selects table 2 (seats over 10 up to 50) for calls"
    )


def test_two_dimensional_needs_both_dimensions():
    with pytest.raises(PricingError) as caught:
        price(calls_by_seats(), quantity={"seats": D(1)})
    assert caught.value.field == "quantity"
