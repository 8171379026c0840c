"""A finance user reads the Revenue page of a ledger made by real billing events -- a yearly
subscription invoiced in advance and the recognition run through March -- then drills down
from a month's revenue to the journal line and on to the invoice, maps an account to a GL
code (a refusal shown on the form first), exports the journal and closes January."""

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from invoicing import services as invoicing
from invoicing.models import Invoice
from revrec.models import Account, PeriodClose
from revrec.recognition import recognize
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.scenario import Scenario, flat

pytestmark = [pytest.mark.browser, COMMITTING]

# The months shown: January to June 2026; balances and the waterfall as of March 31.
PAGE = "/revenue/?from=2026-01-01&to=2026-06-30&on=2026-03-31"


@pytest.fixture
def books(tenant):
    """$1,200.00 a year for 2026, billed in advance (ratable: all of it deferred), finalized on
    Jan 5; the recognition run through Mar 31. The schedule earns 1,200 x days / 365 by the
    start of each month, rounded once: Feb 1 (31 days) 101.917... -> 101.92; Mar 1 (59)
    193.972... -> 193.97; Apr 1 (90) 295.890... -> 295.89. So January 101.92, February
    193.97 - 101.92 = 92.05, March 295.89 - 193.97 = 101.92."""
    scenario = Scenario(tenant)
    scenario.patch_settings(auto_finalize=False)  # finalized below, on Jan 5
    scenario.customer("acme", name="Acme Corp")
    scenario.product("PLATFORM")
    contract = scenario.contract(cadence="annual", items=[flat("PLATFORM", "1200.00")])
    scenario.run("2026-01-05")
    [draft] = scenario.invoices(contract["id"])
    with tenant.context():
        invoice = Invoice.objects.for_organization(tenant.organization).get(id=draft["id"])
        invoice = invoicing.invoice_finalize(invoice=invoice,
                                             now=datetime(2026, 1, 5, 12, tzinfo=UTC))
        result = recognize(organization=tenant.organization, through=date(2026, 3, 31))
    assert (invoice.total, invoice.issue_date) == (Decimal("1200.00"), date(2026, 1, 5))
    assert (result.failed, result.amounts["USD"]) == ([], Decimal("295.89"))
    return invoice


@pytest.fixture
def finance(live_server, page, tenant, make_user, books):
    sign_in(page, live_server.url, tenant.organization, make_user)
    return page


def _chart(page, canvas: str):
    """What Chart.js drew on ``canvas``: each dataset's label and numbers (None when there
    is no chart on it)."""
    return page.evaluate(
        """(id) => { const chart = Chart.getChart(id);
                     return chart && chart.data.datasets.map(d => [d.label, d.data]); }""",
        canvas)


def test_the_revenue_page_charts_the_ledger_and_drills_down_to_the_invoice(
        live_server, finance, tenant, books, artifacts):
    page, invoice = finance, books
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.locator("nav").get_by_role("link", name="Revenue").click()
    assert page.locator("nav a.active").inner_text() == "Revenue"
    page.goto(f"{live_server.url}{PAGE}")
    expect(page.locator("h1")).to_have_text("Revenue")

    # Revenue by month, stacked by product: the data block and the chart drawn from it.
    revenue = page.evaluate(
        "() => JSON.parse(document.getElementById('revenue-chart-data').textContent)")
    assert revenue == {"currency": "USD",
                       "labels": ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05",
                                  "2026-06"],
                       "datasets": [{"label": "Platform", "data": [
                           "101.92", "92.05", "101.92", "0.00", "0.00", "0.00"]}]}
    assert _chart(page, "revenue-chart") == [
        ["Platform", [101.92, 92.05, 101.92, 0, 0, 0]]]
    expect(page.get_by_test_id("revenue-total")).to_have_text("$295.89")  # 101.92+92.05+101.92

    # The waterfall as of Mar 31: what is left of the 1,200.00 (1,200 - 295.89 = 904.11), by
    # the month it will be recognized -- each month's cumulative figure less the last:
    # May 1 (120 days) 394.52 - 295.89 = 98.63; Jun 1 (151) 496.44 -> 101.92; Jul 1 (181)
    # 595.07 -> 98.63; Aug 1 (212) 696.99 -> 101.92; Sep 1 (243) 798.90 -> 101.91; Oct 1
    # (273) 897.53 -> 98.63; Nov 1 (304) 999.45 -> 101.92; Dec 1 (334) 1,098.08 -> 98.63;
    # Jan 1 2027: 1,200.00 -> 101.92; nothing after, nothing drawn down.
    waterfall = page.evaluate(
        "() => JSON.parse(document.getElementById('waterfall-chart-data').textContent)")
    assert waterfall["labels"] == [
        "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
        "2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "Later", "As used / at expiry"]
    assert waterfall["data"] == [
        "98.63", "101.92", "98.63", "101.92", "101.91", "98.63", "101.92", "98.63", "101.92",
        "0.00", "0.00", "0.00", "0.00", "0.00"]
    [[_, drawn]] = _chart(page, "waterfall-chart")
    assert drawn == [98.63, 101.92, 98.63, 101.92, 101.91, 98.63, 101.92, 98.63, 101.92,
                     0, 0, 0, 0, 0]
    expect(page.get_by_test_id("waterfall-total")).to_have_text("$904.11")
    expect(page.get_by_test_id("deferred-balance")).to_have_text("$904.11")
    # Billed (January's invoice, no tax), recognized and collected (nothing yet).
    assert _chart(page, "brc-chart") == [
        ["Billed", [1200, 0, 0, 0, 0, 0]],
        ["Recognized", [101.92, 92.05, 101.92, 0, 0, 0]],
        ["Collected", [0, 0, 0, 0, 0, 0]]]
    assert problems == []
    page.screenshot(path=str(artifacts / "revenue.png"), full_page=True)

    # March's figure: its journal line -- the run's Cr revenue 101.92 of Mar 31 ...
    page.get_by_test_id("revenue-row").filter(has_text="Platform") \
        .get_by_test_id("revenue-figure").nth(2).click()
    page.wait_for_url(re.compile(r"jfrom=2026-03-01&jto=2026-03-31"))
    line = page.get_by_test_id("journal-line")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("2026-03-31")
    expect(line).to_contain_text("revenue.recognized")
    expect(line).to_contain_text("$101.92")
    # ... and on to the invoice behind it.
    line.get_by_test_id("drill-invoice").click()
    page.wait_for_url(re.compile(rf"/invoices/{invoice.id}/$"))
    expect(page.locator("h1")).to_contain_text(invoice.number)


def test_a_gl_code_is_mapped_the_journal_exported_and_january_closed(
        live_server, finance, tenant, books, artifacts):
    page = finance
    page.goto(f"{live_server.url}{PAGE}")
    row = page.get_by_test_id("account-row").filter(has=page.locator("td code",
                                                                     has_text="4000"))
    row.locator("summary").click()
    form = row.get_by_test_id("account-form")

    # The service's refusal, on the field it names; what was typed stays.
    form.locator("input[name$='-code']").fill("1000")
    form.locator("input[name$='-gl_code']").fill("4000-SUBS")
    form.get_by_role("button", name="Save").click()
    row = page.get_by_test_id("account-row").filter(has=page.locator("td code",
                                                                     has_text="4000"))
    expect(row.locator(".has-error .field-error")).to_have_text("Another account has this code.")
    assert row.locator("input[name$='-gl_code']").input_value() == "4000-SUBS"
    page.screenshot(path=str(artifacts / "revenue-account-error.png"), full_page=True)

    row.locator("input[name$='-code']").fill("4000")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(
        "Account 4000 Revenue saved (GL code 4000-SUBS).")
    with tenant.context():
        revenue = Account.objects.for_organization(tenant.organization).get(
            system_key=Account.SystemKey.REVENUE)
    assert (revenue.code, revenue.gl_code) == ("4000", "4000-SUBS")

    # The export link: the journal of the months shown, revenue under its GL code.
    href = page.get_by_test_id("export-csv").get_attribute("href")
    assert href.startswith("/api/v1/revenue/journal/export?")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.ok and response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text())))
    # the finalization (Dr AR / Cr deferred 1,200.00) and three recognitions (2 lines each)
    assert [(r["effective_date"], r["gl_code"], r["debit"], r["credit"]) for r in rows] == [
        ("2026-01-05", "1100", "1200.00", "0.00"), ("2026-01-05", "2100", "0.00", "1200.00"),
        ("2026-01-31", "2100", "101.92", "0.00"), ("2026-01-31", "4000-SUBS", "0.00", "101.92"),
        ("2026-02-28", "2100", "92.05", "0.00"), ("2026-02-28", "4000-SUBS", "0.00", "92.05"),
        ("2026-03-31", "2100", "101.92", "0.00"), ("2026-03-31", "4000-SUBS", "0.00", "101.92"),
    ]

    # Closing January: the checks pass, the confirmation is accepted, the lock date shows.
    page.fill("#id_closed_through", "2026-01-31")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close the books").click()
    expect(page.get_by_role("status")).to_contain_text("The books are closed through 2026-01-31")
    expect(page.get_by_test_id("lock-date")).to_have_text("2026-01-31")
    with tenant.context():
        close = PeriodClose.objects.for_organization(tenant.organization).get()
    assert (close.closed_through, close.closed_by) == (date(2026, 1, 31), "finance@acme.test")
    page.screenshot(path=str(artifacts / "revenue-closed.png"), full_page=True)


def test_an_empty_ledger_says_what_to_do_and_a_viewer_changes_nothing(
        live_server, page, tenant, make_user, artifacts):
    sign_in(page, live_server.url, tenant.organization, make_user, role="viewer")
    page.locator("nav").get_by_role("link", name="Revenue").click()

    expect(page.get_by_test_id("no-ledger")).to_contain_text("No entries in the ledger yet")
    expect(page.get_by_test_id("no-ledger")).to_contain_text("Finalize an invoice")
    expect(page.locator("canvas")).to_have_count(0)
    expect(page.get_by_test_id("journal")).to_contain_text("No entries yet")
    # the chart of accounts is there to be read (seeded), not changed by a viewer
    expect(page.get_by_test_id("account-row")).to_have_count(12)
    expect(page.get_by_test_id("account-form")).to_have_count(0)
    expect(page.get_by_test_id("new-account-form")).to_have_count(0)
    expect(page.get_by_test_id("close-form")).to_have_count(0)
    page.screenshot(path=str(artifacts / "revenue-empty.png"), full_page=True)
