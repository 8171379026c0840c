"""A weekly recurring price counts in MRR as 52 weeks' worth over 12 months."""

from datetime import date
from decimal import Decimal as D

import pytest

from contracts import home
from contracts.metrics import weekly_monthly_value
from tests.support.scenario import Scenario, flat


def test_a_weekly_price_is_worth_52_twelfths_of_it_a_month():
    assert weekly_monthly_value(D("120")) == D("520")  # 120 x 52 / 12
    with pytest.raises(TypeError):
        weekly_monthly_value(120.0)


@pytest.mark.django_db
def test_a_weekly_contract_is_recurring_revenue(tenant):
    scenario = Scenario(tenant)
    scenario.customer()
    scenario.product("PLATFORM")
    scenario.contract(start="2026-01-07", end="2027-01-06", cadence="weekly",
                      items=[flat("PLATFORM", "60.00")])
    with tenant.context():
        book = home.recurring_charges(organization=tenant.organization,
                                      since=date(2026, 1, 1))
    [charge] = book.charges
    assert charge.monthly == D("260")  # 60.00 a week x 52 / 12
