"""Price item specs are validated when built, and every error names its field."""

from decimal import Decimal as D

import pytest

from contracts.pricing import (
    ChargeType,
    FlatFee,
    FormulaPrice,
    Graduated,
    Matrix,
    Package,
    Percentage,
    PerUnit,
    PricingError,
    PricingTypeError,
    StairStep,
    Tier,
    TierTable,
    TwoDimensionalTiers,
    Volume,
)

OPEN = Tier(up_to=None, unit_price=D(1))


def error_of(build) -> PricingError:
    with pytest.raises(PricingError) as caught:
        build()
    return caught.value


def test_tiers_must_ascend_and_the_error_names_the_tier():
    error = error_of(
        lambda: Graduated(
            currency="USD",
            tiers=(
                Tier(up_to=D(100), unit_price=D("0.10")),
                Tier(up_to=D(1000), unit_price=D("0.08")),
                Tier(up_to=D(1000), unit_price=D("0.05")),  # equal to the previous bound
                OPEN,
            ),
        )
    )
    assert error.field == "tiers[2].up_to"
    assert error.message.startswith("tiers must ascend")


@pytest.mark.parametrize("model", [Graduated, Volume])
def test_the_last_tier_must_be_open(model):
    error = error_of(lambda: model(currency="USD", tiers=(Tier(up_to=D(10), unit_price=D(1)),)))
    assert error.field == "tiers[0].up_to"
    assert "last tier must be open" in error.message


def test_only_the_last_tier_may_be_open():
    error = error_of(lambda: Volume(currency="USD", tiers=(OPEN, OPEN)))
    assert error.field == "tiers[0].up_to"


def test_at_least_one_tier():
    assert error_of(lambda: Graduated(currency="USD", tiers=())).field == "tiers"


def test_a_tier_bound_must_be_positive():
    error = error_of(lambda: Graduated(currency="USD", tiers=(Tier(up_to=D(0)), OPEN)))
    assert error.field == "tiers[0].up_to"


def test_a_float_price_is_refused_as_a_type_error_naming_the_field():
    with pytest.raises(TypeError) as caught:
        Graduated(currency="USD", tiers=(Tier(up_to=D(10), unit_price=0.1), OPEN))
    assert isinstance(caught.value, PricingTypeError)
    assert caught.value.field == "tiers[0].unit_price"


def test_negative_prices_are_refused():
    error = error_of(lambda: PerUnit(currency="USD", unit_price=D("-0.01")))
    assert (error.field, error.message) == ("unit_price", "must not be negative")


def test_stair_step_bands_carry_a_fixed_price_only():
    error = error_of(
        lambda: StairStep(currency="USD", tiers=(Tier(up_to=None, unit_price=D(1), flat_fee=D(5)),))
    )
    assert error.field == "tiers[0].unit_price"


def test_currency_must_be_an_iso_code():
    assert error_of(lambda: FlatFee(currency="usd", amount=D(1))).field == "currency"
    assert error_of(lambda: FlatFee(currency="ABC", amount=D(1))).field == "currency"


def test_maximum_may_not_be_below_minimum():
    error = error_of(lambda: PerUnit(currency="USD", unit_price=D(1), minimum=D(10), maximum=D(5)))
    assert error.field == "maximum"


def test_package_size_must_be_positive():
    error = error_of(lambda: Package(currency="USD", package_size=D(0), package_price=D(5)))
    assert error.field == "package_size"


def test_percentage_is_between_0_and_100_and_usage_based():
    assert error_of(lambda: Percentage(currency="USD", percent=D(101))).field == "percent"
    error = error_of(
        lambda: Percentage(currency="USD", percent=D(2), charge_type=ChargeType.RECURRING)
    )
    assert error.field == "charge_type"


def test_matrix_keys_have_one_value_per_dimension():
    error = error_of(
        lambda: Matrix(
            currency="USD", dimensions=("region", "instance"), prices={("us",): D("0.01")}
        )
    )
    assert error.field == "prices[('us',)]"


def test_matrix_dimensions_are_distinct_names():
    error = error_of(
        lambda: Matrix(currency="USD", dimensions=("a", "a"), prices={("x", "y"): D(1)})
    )
    assert error.field == "dimensions"


def test_matrix_keeps_its_own_copy_of_the_prices():
    prices = {("us", "small"): D("0.01")}
    item = Matrix(currency="USD", dimensions=("region", "instance"), prices=prices)
    prices[("us", "small")] = D(999)
    assert item.prices[("us", "small")] == D("0.01")


def test_two_dimensional_tables_name_their_nested_fields():
    table = TierTable(up_to=None, tiers=(Tier(up_to=D(5)), Tier(up_to=D(4)), OPEN))
    error = error_of(
        lambda: TwoDimensionalTiers(currency="USD", dimensions=("seats", "calls"), tables=(table,))
    )
    assert error.field == "tables[0].tiers[1].up_to"

    bounded_last = TierTable(up_to=D(10), tiers=(OPEN,))
    error = error_of(
        lambda: TwoDimensionalTiers(
            currency="USD", dimensions=("seats", "calls"), tables=(bounded_last,)
        )
    )
    assert error.field == "tables[0].up_to"
    assert "last table must be open" in error.message


def test_a_formula_price_is_compiled_when_built():
    error = error_of(lambda: FormulaPrice(currency="USD", formula="seats.__class__"))
    assert error.field == "formula"
    assert "attribute access" in error.message


def test_ints_are_accepted_and_normalized_to_decimal():
    item = Graduated(currency="USD", tiers=(Tier(up_to=10, unit_price=2), OPEN), minimum=5)
    assert item.tiers[0] == Tier(up_to=D(10), unit_price=D(2), flat_fee=D(0))
    assert isinstance(item.tiers[0].up_to, D)
    assert isinstance(item.minimum, D)


def test_specs_are_immutable():
    item = PerUnit(currency="USD", unit_price=D(1))
    with pytest.raises(AttributeError):
        item.unit_price = D(2)


def test_error_fields_nest_under_a_prefix():
    error = PricingError(field="tiers[2].up_to", message="tiers must ascend")
    assert error.within("items[0]").field == "items[0].tiers[2].up_to"
    assert str(error) == "tiers[2].up_to: tiers must ascend"
