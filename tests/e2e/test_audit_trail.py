"""An admin renames a customer and changes its terms in the dashboard, then reads the change
-- who, from where, old → new -- in the customer page's activity, follows it to the audit log
filtered to that customer, and reads the log, the customer page and the "Changes" of a
contract and of an invoice on a phone (390 px) without scrolling sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.factories import CustomerFactory
from tests.support.scenario import Scenario, flat

pytestmark = [pytest.mark.browser, COMMITTING]


def test_an_admin_edits_a_customer_and_reads_the_change_in_its_history(
        live_server, page, tenant, make_user, artifacts):
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    acme = CustomerFactory(organization=tenant.organization, external_id="acme",
                           name="Acme Corp", currency="USD", payment_terms_days=30)
    sign_in(page, live_server.url, tenant.organization, make_user, role="admin")

    page.goto(f"{live_server.url}/customers/{acme.id}/edit/")
    page.get_by_label("Name").fill("Acme Corporation")
    page.get_by_label("Payment terms").fill("45")
    page.get_by_test_id("save-customer").click()
    expect(page.locator("h1")).to_have_text("Acme Corporation")

    # The activity: the change, who made it and from where, old → new.
    change = page.get_by_test_id("timeline-entry").filter(has_text="changed by")
    expect(change).to_have_count(1)
    expect(change).to_contain_text("Customer Acme Corporation changed by admin@acme.test "
                                   "(Dashboard · 127.0.0.1)")
    expect(change).to_contain_text("name: Acme Corp → Acme Corporation")
    expect(change).to_contain_text("payment_terms_days: 30 → 45")
    page.screenshot(path=str(artifacts / "audit-customer.png"), full_page=True)

    # Its link: the audit log, filtered to the customer.
    change.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/audit-log/\?object_id={acme.id}$"))
    expect(page.locator("h1")).to_have_text("Audit log")
    expect(page.get_by_label("Object id")).to_have_value(str(acme.id))
    events = page.get_by_test_id("audit-event")
    expect(events).to_have_count(2)  # created (by the system), then changed
    newest = events.first
    expect(newest.get_by_test_id("audit-what")).to_have_text("Customer Acme Corporation changed")
    expect(newest.get_by_test_id("audit-who")).to_contain_text("by admin@acme.test · Dashboard")
    expect(newest.get_by_test_id("audit-change")).to_have_text([
        "name Acme Corp → Acme Corporation", "payment_terms_days 30 → 45"])
    expect(events.last.get_by_test_id("audit-what")).to_have_text("Customer Acme Corp created")

    # The same filter typed by hand, on the whole log.
    page.goto(f"{live_server.url}/audit-log/")
    page.get_by_label("Object", exact=True).select_option("customer")
    page.get_by_label("Action").select_option("changed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-event")).to_have_count(1)
    expect(page.get_by_test_id("audit-change").first).to_have_text(
        "name Acme Corp → Acme Corporation")

    # On a phone: nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/audit-log/?object_id={acme.id}")
    expect(page.get_by_test_id("audit-event")).to_have_count(2)
    fits(page, "the audit log")
    page.screenshot(path=str(artifacts / "audit-log-narrow.png"), full_page=True)
    page.goto(f"{live_server.url}/customers/{acme.id}/")
    fits(page, "the customer page")
    scenario = Scenario(tenant)
    scenario.product("PLATFORM")
    contract = scenario.contract(customer="acme", items=[flat("PLATFORM", "100.00")])
    invoice = scenario.post("invoices", {"customer": "acme", "lines": [
        {"description": "Onboarding workshop for the finance team", "quantity": "1",
         "unit_price": "900.00"}]})
    for path, name in ((f"/contracts/{contract['id']}/", "the contract page"),
                       (f"/invoices/{invoice['id']}/", "the invoice page")):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_test_id("object-changes").get_by_test_id("audit-event").first
               ).to_contain_text("by API key admin key · API")
        fits(page, name)
    page.screenshot(path=str(artifacts / "audit-invoice-narrow.png"), full_page=True)
    assert problems == []
