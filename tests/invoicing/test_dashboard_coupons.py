"""The Coupons page and the customer page's "Coupons" section, through Django's test client:
the same services as the API, the same refusals in the same words, and viewers read only."""

from __future__ import annotations

import html

import pytest

from invoicing.models import Coupon, CouponRedemption
from tests.support.coupons import coupon, redeem
from tests.support.scenario import flat
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_writer_creates_a_coupon_on_the_coupons_page(client, signed_in, scenario):
    signed_in(Role.FINANCE)
    scenario.product("SUPPORT")

    refused = client.post("/coupons/new/", {"code": "bad code", "name": "Spring",
                                            "kind": "percent", "percent_off": "20",
                                            "duration": "once"})
    created = client.post("/coupons/new/", {
        "code": "SPRING20", "name": "Spring sale", "kind": "percent", "percent_off": "20",
        "duration": "repeating", "duration_periods": "3", "products": ["SUPPORT"],
        "max_redemptions": "100", "redeemable_through": "2099-12-31"})
    page = client.get("/coupons/")

    assert refused.status_code == 400
    assert "1 to 50 letters, digits, '-' or '_'" in text(refused)  # the service's words
    assert created.status_code == 302
    with scenario.tenant.context():
        made = Coupon.objects.get(organization=scenario.tenant.organization)
    assert (made.code, made.percent_off, made.duration_periods, made.max_redemptions) == (
        "SPRING20", 20, 3, 100)
    body = text(page)
    assert "SPRING20" in body and "20% off" in body
    assert "first 3 invoices of each contract" in body and "SUPPORT" in body


def test_a_fixed_coupon_of_the_wrong_digits_is_refused_with_the_api_s_words(client, signed_in,
                                                                             scenario):
    signed_in(Role.FINANCE)

    refused = client.post("/coupons/new/", {"code": "YEN", "name": "Yen", "kind": "fixed",
                                            "amount_off": "10.5", "currency": "JPY",
                                            "duration": "once"})
    api = scenario.post("coupons", {"code": "YEN", "name": "Yen", "kind": "fixed",
                                    "amount_off": "10.5", "currency": "JPY",
                                    "duration": "once"}, status=400)

    assert refused.status_code == 400
    assert api["error"]["fields"]["amount_off"][0] in text(refused)  # "At most 0 decimals..."


def test_archive_and_restore(client, signed_in, scenario):
    signed_in(Role.FINANCE)
    made = coupon(scenario, "OLD", percent_off="10")

    client.post(f"/coupons/{made['id']}/archive/", {"archived": "1"})
    archived = client.get("/coupons/?archived=1")
    current = client.get("/coupons/")

    assert "OLD" in text(archived) and "Restore" in text(archived)
    assert "No coupons yet." in text(current)
    client.post(f"/coupons/{made['id']}/archive/", {"archived": "0"})
    assert scenario.get(f"coupons/{made['id']}")["archived"] is False


def test_the_customer_page_applies_shows_and_removes_coupons(client, signed_in, scenario):
    signed_in(Role.FINANCE)
    customer = scenario.customer()
    scenario.product("PLATFORM")
    scenario.contract(items=[flat("PLATFORM", "100.00")])
    coupon(scenario, "GIFT", amount_off="150.00")
    coupon(scenario, "EURO", amount_off="10.00", currency="EUR")
    scenario.run("2026-01-01")  # before the coupon: 100.00, final

    applied = client.post(f"/invoices/customers/{customer['id']}/coupons/", {"code": "gift"})
    refused = client.post(f"/invoices/customers/{customer['id']}/coupons/", {"code": "EURO"},
                          follow=True)
    scenario.run("2026-02-01")  # February: 100.00 - 100.00; 50.00 left
    page = text(client.get(f"/customers/{customer['id']}/"))

    assert applied.status_code == 302
    assert "No coupon was applied. The coupon EURO is in EUR" in text(refused)
    assert 'data-testid="customer-coupons"' in page
    assert "$50.00 of $150.00 left" in page
    with scenario.tenant.context():
        redemption = CouponRedemption.objects.get(organization=scenario.tenant.organization)
    client.post(f"/invoices/customers/{customer['id']}/coupons/{redemption.id}/remove/")
    with scenario.tenant.context():
        redemption.refresh_from_db()
    assert redemption.removed_at is not None
    assert "removed" in text(client.get(f"/customers/{customer['id']}/"))


def test_a_viewer_sees_coupons_but_no_form(client, signed_in, scenario):
    signed_in(Role.VIEWER)
    customer = scenario.customer()
    coupon(scenario, "LOOK", percent_off="5")
    redeem(scenario, customer, "LOOK")

    page = text(client.get("/coupons/"))
    customer_page = text(client.get(f"/customers/{customer['id']}/"))
    refused = client.post(f"/invoices/customers/{customer['id']}/coupons/", {"code": "LOOK"})

    assert "LOOK" in page and 'data-testid="coupon-form"' not in page
    assert "LOOK" in customer_page and 'data-testid="apply-coupon-form"' not in customer_page
    assert refused.status_code == 403
