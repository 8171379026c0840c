"""Flat, per-unit, percentage, package and formula prices; included units; line min/max.

Every expected amount is worked out by hand in the comment next to it.
"""

import json
from decimal import Decimal as D

import pytest

from contracts.pricing import (
    ChargeType,
    FlatFee,
    FormulaInputs,
    FormulaPrice,
    Package,
    Percentage,
    PerUnit,
    PricingError,
    StepKind,
    price,
)


def kinds(result) -> list[StepKind]:
    return [step.kind for step in result.steps]


# --- flat fee ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "fee", "expected"),
    [
        ("USD", "49.99", "49.99"),
        ("JPY", "5000", "5000"),
        ("KWD", "12.345", "12.345"),
    ],
)
def test_flat_fee_for_a_whole_period(currency, fee, expected):
    result = price(FlatFee(currency=currency, amount=D(fee)))
    assert str(result.amount) == expected
    assert kinds(result) == [StepKind.FLAT]


def test_flat_fee_takes_no_quantity():
    with pytest.raises(PricingError) as caught:
        price(FlatFee(currency="USD", amount=D(10)), quantity=D(2))
    assert caught.value.field == "quantity"


# --- per unit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "unit_price", "quantity", "expected"),
    [
        ("USD", "0.0015", "12345", "18.52"),  # 12345 x 0.0015 = 18.5175 -> 18.52
        ("USD", "0.0000012345", "1000000", "1.23"),  # 10-place unit price: 1.2345 -> 1.23
        ("USD", "0.023", "0.5", "0.01"),  # half a GB: 0.0115 -> 0.01
        ("KWD", "0.023", "0.5", "0.012"),  # 0.0115 -> 0.012 (three digits, half-up)
        ("JPY", "1250", "3", "3750"),  # 3 seats x 1250 yen
        ("JPY", "0.35", "7", "2"),  # 7 x 0.35 = 2.45 -> 2 yen
        ("USD", "10", "0", "0.00"),  # zero usage
    ],
)
def test_per_unit(currency, unit_price, quantity, expected):
    result = price(PerUnit(currency=currency, unit_price=D(unit_price)), quantity=D(quantity))
    assert str(result.amount) == expected


def test_per_unit_keeps_the_unrounded_amount_beside_the_rounded_one():
    result = price(PerUnit(currency="USD", unit_price=D("0.0015")), quantity=D(12345))
    assert result.unrounded_amount == D("18.5175")  # 12345 x 0.0015
    assert result.amount == D("18.52")
    [step] = result.steps
    assert (step.quantity, step.unit_price, step.amount) == (D(12345), D("0.0015"), D("18.5175"))


def test_zero_usage_says_nothing_was_charged():
    result = price(PerUnit(currency="USD", unit_price=D(1)), quantity=D(0))
    assert kinds(result) == [StepKind.NO_CHARGE]
    assert result.amount == D("0.00")


def test_quantity_is_required_and_never_a_float_or_negative():
    item = PerUnit(currency="USD", unit_price=D(1))
    for bad in (None, D(-1)):
        with pytest.raises(PricingError) as caught:
            price(item, quantity=bad)
        assert caught.value.field == "quantity"
    with pytest.raises(TypeError):
        price(item, quantity=1.5)


# --- percentage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "volume", "minimum", "maximum", "expected"),
    [
        ("USD", "1234.56", None, None, "35.80"),  # 1234.56 x 2.9% = 35.80224 -> 35.80
        ("USD", "1234.56", "50", None, "50.00"),  # 35.80224 < minimum 50
        ("USD", "1234.56", None, "30", "30.00"),  # 35.80224 > maximum 30
        ("USD", "0", "50", None, "50.00"),  # no volume, the minimum still applies
        ("USD", "0", None, None, "0.00"),  # no volume, no minimum
        ("KWD", "100.005", None, None, "2.900"),  # 100.005 x 0.029 = 2.900145 -> 2.900
        ("JPY", "12345", None, None, "358"),  # 12345 x 0.029 = 358.005 -> 358
    ],
)
def test_percentage_of_a_metered_amount(currency, volume, minimum, maximum, expected):
    item = Percentage(
        currency=currency,
        percent=D("2.9"),
        minimum=None if minimum is None else D(minimum),
        maximum=None if maximum is None else D(maximum),
    )
    assert str(price(item, quantity=D(volume)).amount) == expected


def test_percentage_breakdown_shows_the_rate_and_the_cap():
    item = Percentage(currency="USD", percent=D("2.9"), maximum=D(30))
    result = price(item, quantity=D("1234.56"))
    assert kinds(result) == [StepKind.PERCENTAGE, StepKind.MAXIMUM]
    percentage, cap = result.steps
    assert percentage.unit_price == D("0.029")
    assert percentage.amount == D("35.80224")
    assert cap.amount == D("-5.80224")  # 30 - 35.80224


# --- package -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected_blocks", "expected"),
    [
        ("0", None, "0.00"),  # nothing used, no block started
        ("0.5", "1", "5.00"),  # a started block costs a whole one
        ("1", "1", "5.00"),
        ("100", "1", "5.00"),  # exactly one full block
        ("101", "2", "10.00"),  # one unit into the second block
        ("250", "3", "15.00"),  # 2.5 blocks -> 3 x 5.00
    ],
)
def test_package_rounds_partial_blocks_up(quantity, expected_blocks, expected):
    item = Package(currency="USD", package_size=D(100), package_price=D(5))
    result = price(item, quantity=D(quantity))
    assert str(result.amount) == expected
    if expected_blocks is not None:
        assert result.steps[-1].quantity == D(expected_blocks)
        assert result.steps[-1].kind is StepKind.BLOCKS


def test_package_after_included_units():
    item = Package(currency="USD", package_size=D(100), package_price=D(5), included_units=D(50))
    # 150 - 50 free = 100 units = 1 block x 5.00
    assert price(item, quantity=D(150)).amount == D("5.00")


def test_package_in_yen():
    item = Package(currency="JPY", package_size=D(1000), package_price=D(300))
    # 2001 units -> 3 blocks x 300 = 900
    assert price(item, quantity=D(2001)).amount == D(900)


# --- included units and the line's minimum and maximum -------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("999", "0.00"),  # under the 1000 free units
        ("1000", "0.00"),  # exactly all free units
        ("1001", "0.10"),  # 1 billable unit x 0.10
        ("2500", "150.00"),  # (2500 - 1000) x 0.10
        ("1000.5", "0.05"),  # 0.5 x 0.10
    ],
)
def test_included_units_come_off_before_pricing(quantity, expected):
    item = PerUnit(currency="USD", unit_price=D("0.10"), included_units=D(1000))
    assert str(price(item, quantity=D(quantity)).amount) == expected


def test_included_units_are_explained():
    item = PerUnit(currency="USD", unit_price=D("0.10"), included_units=D(1000))
    result = price(item, quantity=D(2500))
    included, units = result.steps
    assert included.kind is StepKind.INCLUDED
    assert (included.quantity, included.amount) == (D(1000), D(0))
    assert units.quantity == D(1500)


@pytest.mark.parametrize(
    ("quantity", "expected", "last_step"),
    [
        ("100", "25.00", StepKind.MINIMUM),  # 100 x 0.10 = 10 < minimum 25
        ("500", "50.00", StepKind.UNITS),  # 500 x 0.10 = 50, between the bounds
        ("2000", "100.00", StepKind.MAXIMUM),  # 2000 x 0.10 = 200 > maximum 100
        ("0", "25.00", StepKind.MINIMUM),  # nothing used: the minimum is still owed
    ],
)
def test_line_minimum_and_maximum(quantity, expected, last_step):
    item = PerUnit(currency="USD", unit_price=D("0.10"), minimum=D(25), maximum=D(100))
    result = price(item, quantity=D(quantity))
    assert str(result.amount) == expected
    assert result.steps[-1].kind is last_step


def test_minimum_in_dinar_keeps_three_digits():
    item = PerUnit(currency="KWD", unit_price=D("0.001"), minimum=D("1.5"))
    # 20 x 0.001 = 0.020 < 1.5 -> 1.500
    assert str(price(item, quantity=D(20)).amount) == "1.500"


# --- formula -------------------------------------------------------------------------------

API_FORMULA = 'max(0, usage("api_calls") - 1000) * 0.002 + seats * 12'


@pytest.mark.parametrize(
    ("calls", "seats", "expected"),
    [
        ("1500", "3", "37.00"),  # (1500 - 1000) x 0.002 + 3 x 12 = 1 + 36
        ("800", "3", "36.00"),  # max(0, -200) = 0; 0 + 36
        ("1000", "0", "0.00"),  # nothing over the free calls, no seats
    ],
)
def test_formula_price(calls, seats, expected):
    item = FormulaPrice(currency="USD", formula=API_FORMULA)
    inputs = FormulaInputs(variables={"seats": D(seats)}, usage={"api_calls": D(calls)})
    result = price(item, quantity=inputs)
    assert str(result.amount) == expected
    assert result.steps[0].kind is StepKind.FORMULA


def test_formula_price_needs_every_variable():
    item = FormulaPrice(currency="USD", formula=API_FORMULA)
    with pytest.raises(PricingError, match="missing variable 'seats'") as caught:
        price(item, quantity=FormulaInputs(usage={"api_calls": D(1)}))
    assert caught.value.field == "formula"


def test_formula_price_refuses_a_negative_result():
    item = FormulaPrice(currency="USD", formula='usage("api_calls") - 1000')
    with pytest.raises(PricingError, match="negative"):
        price(item, quantity=FormulaInputs(usage={"api_calls": D(10)}))


def test_formula_price_with_a_minimum():
    item = FormulaPrice(currency="USD", formula="seats * 12", minimum=D(50))
    # 2 x 12 = 24 < 50
    assert price(item, quantity=FormulaInputs(variables={"seats": D(2)})).amount == D("50.00")


# --- the result ----------------------------------------------------------------------------


def test_result_serializes_to_json_with_decimals_as_strings():
    item = PerUnit(
        currency="USD", unit_price=D("0.10"), included_units=D(10), charge_type=ChargeType.USAGE
    )
    result = price(item, quantity=D("12.5"))
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "currency": "USD",
        "amount": "0.25",  # (12.5 - 10) x 0.10 = 0.250
        "unrounded_amount": "0.250",
        "steps": [
            {
                "kind": "included",
                "description": "10 units included free; 10 used",
                "quantity": "10",
                "unit_price": "0",
                "amount": "0",
            },
            {
                "kind": "units",
                "description": "2.5 units x 0.10",
                "quantity": "2.5",
                "unit_price": "0.10",
                "amount": "0.250",
            },
        ],
    }


def test_result_money_is_the_rounded_amount():
    result = price(PerUnit(currency="JPY", unit_price=D("0.5")), quantity=D(5))
    # 5 x 0.5 = 2.5 -> 3 yen (half-up)
    assert result.money.to_dict() == {"amount": "3", "currency": "JPY"}
