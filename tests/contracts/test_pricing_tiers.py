"""Graduated, volume and stair-step tiers, with Stripe's (previous up_to, up_to] convention.

Every expected amount is worked out by hand in the comment next to it.
"""

from decimal import Decimal as D

import pytest

from contracts.pricing import (
    Graduated,
    StairStep,
    StepKind,
    Tier,
    Volume,
    price,
)

# Units 0-100 at 0.10, 100-1000 at 0.08, above 1000 at 0.05.
TIERS = (
    Tier(up_to=D(100), unit_price=D("0.10")),
    Tier(up_to=D(1000), unit_price=D("0.08")),
    Tier(up_to=None, unit_price=D("0.05")),
)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0.00"),
        ("99", "9.90"),  # 99 x 0.10
        ("100", "10.00"),  # exactly at the bound: unit 100 is still tier 1 -> 100 x 0.10
        ("101", "10.08"),  # 100 x 0.10 + 1 x 0.08
        ("100.5", "10.04"),  # 10.00 + 0.5 x 0.08 = 10.04
        ("999", "81.92"),  # 10.00 + 899 x 0.08 = 10 + 71.92
        ("1000", "82.00"),  # 10.00 + 900 x 0.08 = 10 + 72
        ("1001", "82.05"),  # 82.00 + 1 x 0.05
        ("2500", "157.00"),  # 82.00 + 1500 x 0.05 = 82 + 75
    ],
)
def test_graduated_prices_each_unit_in_its_tier(quantity, expected):
    result = price(Graduated(currency="USD", tiers=TIERS), quantity=D(quantity))
    assert str(result.amount) == expected


def test_graduated_breakdown_lists_each_tier_touched():
    result = price(Graduated(currency="USD", tiers=TIERS), quantity=D(2500))
    assert [(s.kind, s.quantity, s.unit_price, s.amount) for s in result.steps] == [
        (StepKind.TIER, D(100), D("0.10"), D("10.00")),
        (StepKind.TIER, D(900), D("0.08"), D("72.00")),
        (StepKind.TIER, D(1500), D("0.05"), D("75.00")),
    ]
    assert result.steps[1].description == "Tier 2 (over 100 up to 1,000): 900 units x 0.08"


# First 10 units: flat 20 and free; 10-50: flat 5 plus 2 each; above 50: 1 each.
FLAT_TIERS = (
    Tier(up_to=D(10), unit_price=D(0), flat_fee=D(20)),
    Tier(up_to=D(50), unit_price=D(2), flat_fee=D(5)),
    Tier(up_to=None, unit_price=D(1)),
)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0.00"),  # no tier reached, no flat fee
        ("0.5", "20.00"),  # tier 1 reached: flat 20
        ("10", "20.00"),  # 10 x 0 + 20
        ("11", "27.00"),  # 20 + (1 x 2 + 5)
        ("50", "105.00"),  # 20 + (40 x 2 + 5) = 20 + 85
        ("60", "115.00"),  # 105 + 10 x 1
    ],
)
def test_graduated_flat_fee_per_tier_reached(quantity, expected):
    result = price(Graduated(currency="USD", tiers=FLAT_TIERS), quantity=D(quantity))
    assert str(result.amount) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0.00"),
        ("0.5", "0.05"),  # 0.5 x 0.10
        ("99", "9.90"),  # 99 x 0.10
        ("100", "10.00"),  # at the bound: still tier 1 -> 100 x 0.10
        ("101", "8.08"),  # tier 2 reached: all 101 x 0.08
        ("1000", "80.00"),  # 1000 x 0.08
        ("1001", "50.05"),  # tier 3 reached: all 1001 x 0.05
    ],
)
def test_volume_prices_all_units_at_the_reached_tier(quantity, expected):
    result = price(Volume(currency="USD", tiers=TIERS), quantity=D(quantity))
    assert str(result.amount) == expected


def test_volume_with_a_flat_fee():
    tiers = (
        Tier(up_to=D(10), unit_price=D(1), flat_fee=D(10)),
        Tier(up_to=None, unit_price=D("0.5"), flat_fee=D(25)),
    )
    item = Volume(currency="USD", tiers=tiers)
    assert price(item, quantity=D(10)).amount == D("20.00")  # 10 x 1 + 10
    assert price(item, quantity=D(11)).amount == D("30.50")  # 11 x 0.5 + 25
    assert [s.kind for s in price(item, quantity=D(11)).steps] == [
        StepKind.TIER,
        StepKind.TIER_FLAT_FEE,
    ]


BANDS = (
    Tier(up_to=D(10), flat_fee=D(100)),
    Tier(up_to=D(50), flat_fee=D(400)),
    Tier(up_to=None, flat_fee=D(1000)),
)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0.00"),  # no band reached
        ("1", "100.00"),
        ("10", "100.00"),  # at the bound: band 1
        ("10.5", "400.00"),  # just over: band 2
        ("11", "400.00"),
        ("50", "400.00"),
        ("51", "1000.00"),
    ],
)
def test_stair_step_charges_the_band_reached(quantity, expected):
    result = price(StairStep(currency="USD", tiers=BANDS), quantity=D(quantity))
    assert str(result.amount) == expected


def test_stair_step_breakdown_names_the_band():
    [step] = price(StairStep(currency="USD", tiers=BANDS), quantity=D(11)).steps
    assert step.kind is StepKind.BAND
    assert (
        step.description == "Band 2 (over 10 up to 50 units) reached with 11 units: fixed price 400"
    )


def test_fractional_units_first_half_gigabyte_free():
    tiers = (Tier(up_to=D("0.5"), unit_price=D(0)), Tier(up_to=None, unit_price=D(2)))
    item = Graduated(currency="USD", tiers=tiers)
    assert price(item, quantity=D("0.5")).amount == D("0.00")  # all in the free tier
    assert price(item, quantity=D("0.75")).amount == D("0.50")  # 0.25 GB x 2


def test_graduated_in_yen_rounds_to_whole_yen():
    tiers = (Tier(up_to=D(1000), unit_price=D("0.3")), Tier(up_to=None, unit_price=D("0.2")))
    item = Graduated(currency="JPY", tiers=tiers)
    assert price(item, quantity=D(1001)).amount == D(300)  # 300 + 0.2 = 300.2 -> 300
    assert price(item, quantity=D(1003)).amount == D(301)  # 300 + 0.6 = 300.6 -> 301


def test_graduated_in_dinar_rounds_to_fils():
    tiers = (Tier(up_to=D(10), unit_price=D("0.1235")), Tier(up_to=None, unit_price=D("0.1")))
    result = price(Graduated(currency="KWD", tiers=tiers), quantity=D(3))
    assert str(result.amount) == "0.371"  # 3 x 0.1235 = 0.3705 -> 0.371


def test_included_units_come_off_before_the_tiers():
    item = Graduated(currency="USD", tiers=TIERS, included_units=D(50))
    # 150 - 50 = 100 billable, all in tier 1 -> 100 x 0.10
    assert price(item, quantity=D(150)).amount == D("10.00")


def test_volume_with_minimum_and_maximum():
    item = Volume(currency="USD", tiers=TIERS, minimum=D(5), maximum=D(60))
    assert price(item, quantity=D(20)).amount == D("5.00")  # 20 x 0.10 = 2 < 5
    assert price(item, quantity=D(900)).amount == D("60.00")  # 900 x 0.08 = 72 > 60
