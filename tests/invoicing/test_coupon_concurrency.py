"""Coupons under concurrency, for real: two database connections at the same moment.

- Two customers redeem the last slot of a coupon at once: exactly one redemption is made, the
  other is refused with ``max_redemptions_reached``, and the coupon counts one.
- The drafts of two contracts of one customer are rated at once with a fixed $150 coupon, each
  $100: together they take $150 -- never $200 -- whichever is rated first.

Both commit (the second connection must see the first's rows)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contracts.models import Contract, Customer
from invoicing.models import Coupon, CouponApplication, CouponRedemption
from invoicing.services import coupons, invoices_generate_for_contract
from tests.support import COMMITTING
from tests.support.concurrency import at_once
from tests.support.coupons import coupon, redeem
from tests.support.scenario import Scenario, flat

pytestmark = COMMITTING


def _redeem(organization, customer_id):
    def call():
        customer = Customer.objects.for_organization(organization).get(id=customer_id)
        try:
            coupons.coupon_redeem(organization=organization, customer=customer, code="LAST")
        except ValidationError as error:
            return error.error_dict["code"][0].code
        return "redeemed"
    return call


@pytest.mark.parametrize("attempt", range(3), ids=lambda n: f"attempt-{n}")
def test_two_redemptions_of_the_last_slot_at_once_make_exactly_one(tenant, attempt):
    scenario = Scenario(tenant)
    first = scenario.customer("acme")
    second = scenario.customer("globex")
    made = coupon(scenario, "LAST", percent_off="10", max_redemptions=1)
    organization = tenant.organization

    results = at_once(_redeem(organization, first["id"]), _redeem(organization, second["id"]),
                      organization=organization)

    assert sorted(results) == ["max_redemptions_reached", "redeemed"]
    with tenant.context():
        assert Coupon.objects.get(id=made["id"]).times_redeemed == 1
        assert CouponRedemption.objects.filter(coupon_id=made["id"]).count() == 1


def test_two_drafts_rated_at_once_never_take_more_than_a_fixed_coupon_holds(tenant):
    scenario = Scenario(tenant)
    customer = scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("SUPPORT")
    scenario.patch_settings(grace_period_hours=24 * 400)  # drafts: rated, not finalized
    ids = [scenario.contract(start="2026-01-01", end="2026-02-01",
                             items=[flat(sku, "100.00")])["id"]
           for sku in ("PLATFORM", "SUPPORT")]
    coupon(scenario, "SHARED", amount_off="150.00")
    redeem(scenario, customer, "SHARED")
    organization = tenant.organization

    def generate(contract_id):
        def call():
            contract = Contract.objects.for_organization(organization).get(id=contract_id)
            invoices_generate_for_contract(contract=contract)
        return call

    at_once(generate(ids[0]), generate(ids[1]), organization=organization)

    with tenant.context():
        taken = sorted(CouponApplication.objects.filter(
            redemption__coupon__code="SHARED").values_list("amount", flat=True))
    # the first rated takes min(150.00, 100.00) = 100.00; the other what is left: 50.00
    assert taken == [Decimal("50.0000"), Decimal("100.0000")]
    totals = sorted(scenario.invoices(contract_id)[0]["total"] for contract_id in ids)
    assert totals == ["0.00", "50.00"]  # 100.00 - 100.00 and 100.00 - 50.00
