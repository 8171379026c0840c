"""A finance user opens a customer from the customer list and reads the customer 360: the
figures at the top, the invoices, the payments, the usage and the activity; follows the open
amount to the invoices behind it and comes back; renames the customer on the Edit page; and
reads the page on a phone (390 px) without scrolling sideways.

The books of Acme (USD, net 30), dated from T, the organization's today: invoice A of
1,000.00 issued T-60 (due T-30: overdue), invoice B of 500.00 issued T-5 with 200.00 received
by transfer. Open: 1,000.00 + 300.00 = 1,300.00, of which 1,000.00 overdue; billed
1,500.00; the last payment 200.00. Three api_call events in the last 30 days; a contract of
100.00 a month. Initech's invoice of 777.00 never shows on Acme's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from payments import services as payments
from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.factories import CustomerFactory
from tests.support.receivables import issued
from tests.support.scenario import Scenario, flat
from zenskar.dashboard import overview

pytestmark = [pytest.mark.browser, COMMITTING]



@pytest.fixture
def books(tenant):
    organization = tenant.organization
    today = overview.today(organization)
    acme = CustomerFactory(organization=organization, external_id="acme", name="Acme Corp",
                           currency="USD", time_zone="UTC", payment_terms_days=30)
    initech = CustomerFactory(organization=organization, external_id="initech",
                              name="Initech", currency="USD", payment_terms_days=30)
    issued(tenant, acme, "1000.00", today - timedelta(days=60))
    b = issued(tenant, acme, "500.00", today - timedelta(days=5))
    issued(tenant, initech, "777.00", today - timedelta(days=5))
    with tenant.context():
        payments.payment_record_offline(invoice=b, amount=Decimal("200.00"),
                                        method="bank_transfer", reference="TR-B",
                                        received_on=today, actor="ana@acme.test")
    scenario = Scenario(tenant)
    scenario.product("PLATFORM")
    scenario.contract(customer="acme", items=[flat("PLATFORM", "100.00")])
    scenario.meter("api_calls", event_name="api_call")
    scenario.events(*[
        (f"e{n}", "acme", "api_call",
         datetime.combine(today - timedelta(days=n), time(12), tzinfo=UTC).isoformat(), {})
        for n in (1, 2, 3)])
    return {"acme": acme, "today": today}


def test_a_finance_user_reads_the_customer_page_follows_a_figure_and_edits_the_name(
        live_server, page, tenant, make_user, books, artifacts):
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    sign_in(page, live_server.url, tenant.organization, make_user)

    page.goto(f"{live_server.url}/customers/")
    page.get_by_role("link", name="Acme Corp", exact=True).click()
    expect(page.locator("h1")).to_have_text("Acme Corp")

    # The figures at the top, in the customer's currency.
    def figure(testid):
        return page.get_by_test_id(testid).locator(".stat-value")

    expect(figure("summary-open")).to_have_text("$1,300.00")  # 1,000.00 + 500.00 - 200.00
    expect(figure("summary-overdue")).to_have_text("$1,000.00")
    expect(figure("summary-credit")).to_have_text("$0.00")
    expect(figure("summary-billed")).to_have_text("$1,500.00")
    expect(figure("summary-last-payment")).to_have_text("$200.00")

    # The sections: invoices, payments, usage, the activity.
    invoices = page.get_by_test_id("customer-invoice")
    expect(invoices).to_have_count(2)
    expect(page.get_by_test_id("customer-invoices")).not_to_contain_text("777.00")
    expect(invoices.first).to_contain_text("$500.00")
    expect(invoices.first).to_contain_text("Partially paid")
    expect(page.get_by_test_id("customer-payment")).to_have_count(1)
    expect(page.get_by_test_id("customer-payment")).to_contain_text("$200.00")
    expect(page.get_by_test_id("customer-meter").get_by_test_id("meter-quantity")
           ).to_have_text("3")
    activity = page.get_by_test_id("timeline-entry")
    expect(activity.first).to_contain_text("Contract Scenario written")  # the newest
    expect(page.get_by_test_id("timeline")).to_contain_text("Payment of $200.00 received")
    page.screenshot(path=str(artifacts / "customer.png"), full_page=True)

    # The open amount opens the invoices that make it; back to the customer.
    page.get_by_test_id("summary-open").click()
    expect(page).to_have_url(re.compile(r"/invoices/\?customer=acme&status=finalized$"))
    expect(page.get_by_test_id("invoice-row")).to_have_count(2)
    expect(page.get_by_test_id("invoice-row").filter(has_text="777.00")).to_have_count(0)
    page.go_back()
    expect(page.locator("h1")).to_have_text("Acme Corp")

    # Renamed on the Edit page.
    page.get_by_test_id("edit-customer").click()
    expect(page.locator("h1")).to_have_text("Edit Acme Corp")
    page.get_by_label("Name").fill("Acme Corporation")
    page.get_by_test_id("save-customer").click()
    expect(page.locator("h1")).to_have_text("Acme Corporation")
    expect(page.get_by_role("status")).to_contain_text("Customer Acme Corporation saved.")

    # On a phone: the figures two by two, the tables in their own box, nothing sideways.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("h1")).to_have_text("Acme Corporation")
    fits(page)
    page.screenshot(path=str(artifacts / "customer-narrow.png"), full_page=True)
    assert problems == []
