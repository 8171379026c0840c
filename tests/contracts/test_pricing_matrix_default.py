"""A matrix's default unit price: the usage of a combination the price list does not name is
priced at it, and the breakdown says which; without a default such usage is still refused."""

from decimal import Decimal as D

import pytest

from contracts.price_config import spec_from_config
from contracts.pricing import Matrix, PricingError, StepKind, price

COMPUTE = Matrix(currency="USD", dimensions=("region", "type"),
                 prices={("eu", "small"): D("0.10"), ("eu", "large"): D("0.40")},
                 default_unit_price=D("0.05"))


def test_unlisted_combinations_are_priced_at_the_default():
    usage = {("eu", "small"): D(10), ("us", "small"): D(20), ("ap", None): D(6)}
    result = price(COMPUTE, quantity=usage)
    # eu/small 10 x 0.10 = 1.00; us/small 20 x 0.05 = 1.00; ap/(none) 6 x 0.05 = 0.30
    assert result.amount == D("2.30")
    assert [(s.kind, s.description) for s in result.steps] == [
        (StepKind.DEFAULT_CELL, "region=ap, type=(none) (not listed: the default price): 6 x 0.05"),
        (StepKind.CELL, "region=eu, type=small: 10 x 0.10"),
        (StepKind.DEFAULT_CELL, "region=us, type=small (not listed: the default price): 20 x 0.05"),
    ]


def test_without_a_default_an_unlisted_combination_is_still_refused():
    strict = Matrix(currency="USD", dimensions=("region",), prices={("eu",): D("0.10")})
    with pytest.raises(PricingError) as caught:
        price(strict, quantity={("us",): D(1)})
    assert caught.value.field == "quantity[('us',)]"


def test_a_default_alone_prices_every_combination():
    anything = Matrix(currency="USD", dimensions=("region",), prices={},
                      default_unit_price=D("0.25"))
    assert price(anything, quantity={("eu",): D(4)}).amount == D("1.00")  # 4 x 0.25
    with pytest.raises(PricingError) as caught:
        Matrix(currency="USD", dimensions=("region",), prices={})
    assert caught.value.field == "prices"


@pytest.mark.parametrize(("default", "code"), [
    ("-0.01", "out_of_bounds"), ("1e16", "out_of_bounds"), ("0.00000000001", "too_many_decimals"),
    ("cheap", "not_a_number"), (0.05, "not_a_number"),
], ids=["negative", "too-large", "too-precise", "text", "float"])
def test_a_bad_default_names_its_field(default, code):
    config = {"dimensions": ["region"], "prices": [{"values": ["eu"], "unit_price": "1"}],
              "default_unit_price": default}
    with pytest.raises(PricingError) as caught:
        spec_from_config(model="matrix", config=config, currency="USD", metered=True)
    assert (caught.value.field, caught.value.code) == ("default_unit_price", code)
