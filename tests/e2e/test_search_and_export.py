"""A finance user finds things from any page with the search box in the header -- a customer
by e-mail, an invoice by its number -- and clicks through to them; then filters the invoice
list and downloads it as a CSV file, whose rows are the rows the list shows."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.payments import bill, offline
from tests.support.scenario import Scenario
from zenskar.celery import app

pytestmark = [pytest.mark.browser, COMMITTING]


@pytest.fixture
def books(tenant, settings):
    """January's invoices, finalized by the schedule: Acme 100.00 (40.00 paid by a transfer,
    so partially paid), Initech 250.00 (ap@initech.test). Delivery runs in the test process,
    to a mailbox in memory."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    app.conf.task_always_eager = True
    try:
        scenario = Scenario(tenant)
        acme, _ = bill(scenario, "acme", "100.00")
        initech, _ = bill(scenario, "initech", "250.00")
        offline(tenant, acme, "40.00")
    finally:
        app.conf.task_always_eager = False
    return {"acme": acme, "initech": initech}


@pytest.fixture
def finance(live_server, page, tenant, make_user, books):
    sign_in(page, live_server.url, tenant.organization, make_user)
    return page


def header_search(page, text: str) -> None:
    box = page.get_by_test_id("global-search").get_by_role("searchbox")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("h1")).to_have_text("Search")


def test_the_header_search_finds_a_customer_by_e_mail_and_an_invoice_by_number(
        live_server, finance, books, artifacts):
    page, number = finance, books["initech"].number
    page.goto(f"{live_server.url}/payments/")  # any page

    header_search(page, "AP@initech.test")
    customers = page.get_by_test_id("search-customers")
    expect(customers.get_by_test_id("search-result")).to_have_count(1)
    expect(customers).to_contain_text("Initech initech · ap@initech.test")
    expect(page.get_by_test_id("search-invoices")).to_have_count(0)
    page.screenshot(path=str(artifacts / "search-customer.png"), full_page=True)
    customers.get_by_role("link", name="Initech").click()
    expect(page.locator("h1")).to_have_text("Initech")

    header_search(page, number.lower())  # from the customer's page, in any case
    invoices = page.get_by_test_id("search-invoices")
    expect(invoices.get_by_test_id("search-result")).to_have_count(1)
    expect(invoices).to_contain_text(f"{number} Initech · $250.00 · finalized")
    page.screenshot(path=str(artifacts / "search-invoice.png"), full_page=True)
    invoices.get_by_role("link", name=number).click()
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.get_by_test_id("invoice-total")).to_have_text("$250.00")


def test_the_filtered_invoice_list_is_downloaded_as_csv(live_server, finance, books,
                                                        artifacts):
    page = finance
    acme, initech = books["acme"], books["initech"]
    page.locator("nav").get_by_role("link", name="Invoices").click()
    rows = page.get_by_test_id("invoice-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=acme.number)).to_contain_text("Partially paid")

    filters = page.get_by_test_id("invoice-filters")
    filters.get_by_label("Customer").select_option("acme")
    filters.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    shown = [" ".join(rows.nth(0).inner_text().split())]
    page.screenshot(path=str(artifacts / "invoice-list-filtered.png"), full_page=True)

    with page.expect_download() as download:
        filters.get_by_test_id("export-csv").click()
    assert download.value.suggested_filename == "invoices.csv"
    with open(download.value.path(), newline="", encoding="utf-8") as file:
        header, *lines = list(csv.reader(file))

    assert header == ["number", "status", "customer_external_id", "customer", "billing_date",
                      "issue_date", "due_date", "currency", "subtotal", "tax", "total",
                      "amount_paid", "amount_due", "id"]
    assert [line[0] for line in lines] == [acme.number]  # the list's one row
    [line] = lines
    assert line[1:8] == ["partially_paid", "acme", "Acme", "2026-01-01",
                         acme.issue_date.isoformat(), acme.due_date.isoformat(), "USD"]
    assert line[10:13] == ["100.00", "40.00", "60.00"]
    assert line[13] == str(acme.id)
    assert shown == [f"{acme.number} Acme 2026-01-01 {acme.issue_date} {acme.due_date} "
                     "$100.00 $60.00 Partially paid"]
    assert initech.number not in {line[0] for line in lines}
