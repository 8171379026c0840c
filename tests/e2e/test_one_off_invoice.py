"""A finance user writes a one-off invoice in the dashboard: two lines (a third added and taken
out again before saving), saved as a draft, one line removed, finalized; and the new pages
fit a phone.

The amounts, by hand: 3 workshop days x 250.00 = 750.00, plus 1 trip x 99.50 = 99.50, so the
draft is 849.50 (Acme is in the US, which has no tax rate here); without the trip it is
750.00, and so is the finalized invoice.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from invoicing.models import Invoice
from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.scenario import Scenario

pytestmark = [pytest.mark.browser, COMMITTING]



@pytest.fixture
def acme(tenant):
    scenario = Scenario(tenant)
    return {"customer": scenario.customer("acme", name="Acme Corp"),
            "product": scenario.product("PLATFORM")}


def test_a_one_off_invoice_is_written_trimmed_and_finalized(
    live_server, page, tenant, make_user, acme, artifacts
):
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server.url, tenant.organization, make_user)

    page.locator("nav").get_by_role("link", name="Invoices").click()
    page.get_by_test_id("new-invoice").click()
    expect(page.locator("h1")).to_have_text("New invoice")
    page.select_option("#id_customer", label="Acme Corp (acme)")
    expect(page.locator("#id_currency")).to_have_value("USD")  # the customer's
    expect(page.locator("#id_payment_terms_days")).to_have_attribute(
        "placeholder", "The customer's: 30")

    page.fill("#id_lines-0-description", "Workshop day")
    page.fill("#id_lines-0-quantity", "3")
    page.fill("#id_lines-0-unit_price", "250.00")
    page.fill("#id_lines-1-description", "Travel")
    page.fill("#id_lines-1-unit_price", "99.50")
    page.get_by_test_id("add-line").click()  # a third row, in place
    rows = page.get_by_test_id("one-off-line")
    expect(rows).to_have_count(3)
    page.fill("#id_lines-2-description", "Not this one")
    page.fill("#id_lines-2-unit_price", "1000.00")
    rows.nth(2).get_by_test_id("remove-line").click()  # and out again
    expect(rows).to_have_count(2)
    page.screenshot(path=str(artifacts / "one-off-invoice-form.png"), full_page=True)
    page.get_by_test_id("save-draft").click()

    # The draft: 3 x 250.00 + 1 x 99.50 = 849.50
    expect(page.locator("h1")).to_contain_text("Draft invoice")
    expect(page.get_by_role("status")).to_contain_text("Draft invoice of $849.50 for Acme Corp")
    expect(page.get_by_test_id("invoice-total")).to_have_text("$849.50")
    expect(page.get_by_test_id("invoice-line")).to_have_count(2)

    # The trip goes: 849.50 - 99.50 = 750.00
    travel = page.get_by_test_id("invoice-line").filter(has_text="Travel")
    travel.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("the total is now $750.00")
    expect(page.get_by_test_id("invoice-total")).to_have_text("$750.00")
    expect(page.get_by_test_id("invoice-line")).to_have_count(1)

    page.get_by_test_id("invoice-actions").get_by_role("button", name="Finalize").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("finalized")
    with tenant.context():
        invoice = Invoice.objects.for_organization(tenant.organization).get()
    assert re.fullmatch(r"[A-Z0-9]+-\d{4}-000001", invoice.number), invoice.number
    expect(page.locator("h1")).to_contain_text(invoice.number)
    expect(page.get_by_test_id("invoice-total")).to_have_text("$750.00")
    page.screenshot(path=str(artifacts / "one-off-invoice-finalized.png"), full_page=True)
    assert problems == []


def test_the_new_pages_fit_a_phone(live_server, page, tenant, make_user, acme, artifacts):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server.url, tenant.organization, make_user, role="admin")
    paths = {"new invoice": "/invoices/new/", "settings": "/settings/",
             "invoicing settings": "/invoices/settings/",
             "payment gateway": "/payments/settings/",
             "product edit": f"/products/{acme['product']['id']}/edit/"}
    for name, path in paths.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, name
        expect(page.locator("h1").first).to_be_visible()
        fits(page, name)
    page.goto(f"{live_server.url}/invoices/new/")
    page.get_by_test_id("add-line").click()
    fits(page, "the new invoice with a line added")
    page.screenshot(path=str(artifacts / "narrow-one-off-invoice.png"), full_page=True)
