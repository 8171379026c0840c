"""A finance user creates a coupon on the Coupons page, applies it on a customer's page by its
code, and sees it there with what is left; the next invoice is discounted; both pages fit a
phone (390 px).

The amounts, by hand: a fixed coupon of $150.00; Acme's contract bills $100.00 a month in
advance from 2026-01-01. The January invoice takes min($150.00, $100.00) = $100.00 off
(total $0.00), leaving $150.00 - $100.00 = $50.00."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.scenario import Scenario, flat

pytestmark = [pytest.mark.browser, COMMITTING]


@pytest.fixture
def acme(tenant):
    scenario = Scenario(tenant)
    customer = scenario.customer("acme", name="Acme Corp")
    scenario.product("PLATFORM")
    contract = scenario.contract(customer="acme", items=[flat("PLATFORM", "100.00")])
    return {"scenario": scenario, "customer": customer, "contract": contract}


def test_a_coupon_is_created_applied_on_the_customer_page_and_seen(
        live_server, page, tenant, make_user, acme, artifacts):
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server.url, tenant.organization, make_user)

    # The Coupons page: a fixed $150.00, until used up.
    page.locator("nav").get_by_role("link", name="Coupons").click()
    expect(page.locator("h1")).to_have_text("Coupons")
    page.get_by_test_id("new-coupon").click()
    page.fill("#coupon-code", "WELCOME150")
    page.fill("#coupon-name", "Welcome offer")
    page.select_option("#coupon-kind", "fixed")
    page.fill("#coupon-amount_off", "150.00")
    page.fill("#coupon-currency", "USD")
    page.get_by_role("button", name="Create coupon").click()
    expect(page.get_by_role("status")).to_contain_text("Coupon WELCOME150 created: $150.00 off")
    row = page.get_by_test_id("coupon-row").filter(has_text="WELCOME150")
    expect(row.get_by_test_id("coupon-off")).to_have_text("$150.00 off")
    page.screenshot(path=str(artifacts / "coupons.png"), full_page=True)

    # Applied on Acme's page, typed in lower case.
    page.goto(f"{live_server.url}/customers/{acme['customer']['id']}/")
    expect(page.locator("h1")).to_have_text("Acme Corp")
    page.fill("#redeem-code", "welcome150")
    page.get_by_test_id("apply-coupon").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Coupon WELCOME150 applied to Acme Corp: $150.00 off its next invoices.")
    mine = page.get_by_test_id("customer-coupon")
    expect(mine).to_have_count(1)
    expect(mine.get_by_test_id("coupon-left")).to_have_text("$150.00 of $150.00 left")

    # The next invoice: $100.00 - $100.00; $50.00 left, seen on the page.
    acme["scenario"].run("2026-01-01")
    page.reload()
    expect(mine.get_by_test_id("coupon-left")).to_have_text("$50.00 of $150.00 left")
    [invoice] = acme["scenario"].invoices(acme["contract"]["id"])
    assert invoice["total"] == "0.00"
    page.screenshot(path=str(artifacts / "customer-coupons.png"), full_page=True)

    # On a phone: nothing scrolls sideways, on either page.
    page.set_viewport_size(PHONE)
    page.reload()
    fits(page, "the customer page")
    page.goto(f"{live_server.url}/coupons/")
    page.get_by_test_id("new-coupon").click()
    fits(page, "the Coupons page")
    page.screenshot(path=str(artifacts / "coupons-narrow.png"), full_page=True)
    assert problems == []
