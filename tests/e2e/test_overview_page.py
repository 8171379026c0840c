"""A finance user signs in to the home page, the organization's overview: the charts are drawn
first (MRR and its movement, usage, billed, collected, recognized), then what needs attention;
each figure opens the list behind it -- the drafts awaiting review, a month's invoices from its
bar, the customers behind a month of MRR.

The data are dated relative to today (the live server runs on the real clock): "M-k" is the
first day of the month k months before the current one (M0)."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from payments import services as payments
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.factories import (
    ContractFactory,
    CustomerFactory,
    InvoiceFactory,
    MeterFactory,
    PhaseFactory,
)
from tests.support.receivables import issued
from tests.support.scenario import Scenario
from zenskar.dashboard import overview

pytestmark = [pytest.mark.browser, COMMITTING]


def _contract(customer, *phases, **fields):
    contract = ContractFactory(customer=customer, phase=None, status="active",
                               start_date=phases[0][0], end_date=phases[-1][1], **fields)
    for start, end, amount in phases:
        PhaseFactory(contract=contract, start_date=start, end_date=end,
                     items=[{"pricing": {"amount": amount}}])
    return contract


@pytest.fixture
def business(tenant):
    """Monthly flat fees in dollars unless said; the twelve months shown are M-11 to M0, MRR
    read at each month's last day (today for M0), starting from the last day of M-12:

    - Acme:  100.00 since M-14, open-ended                       -> 100 all along
    - Bolt:  1,200.00 a year from M-2 (annual contract)           -> new +100 in M-2
    - Crane: 200.00 since M-14, 300.00 from M-1                   -> expansion +100 in M-1
    - Delta: 500.00 since M-14, 350.00 from M-3                   -> contraction -150 in M-3
    - Echo:  250.00 from M-14 to the 11th of M-4 (first day not covered) -> churn -250 in M-4

    MRR at the end of M-12: 100 + 200 + 500 + 250 = 1,050.00; today 1,050 + 100 + 100 - 150
    - 250 = 850.00 (= 100 + 100 + 300 + 350); ARR 12 x 850 = 10,200.00.
    Billed: Acme 1,000.00 issued on the 10th of M-1 (paid in full on the 20th: collected),
    Bolt 1,200.00 issued on M-2's 1st. One draft (Crane, 300.00) awaits review.
    Usage: 3 api_call events yesterday, 1 the day before.
    """
    organization = tenant.organization
    today = overview.today(organization)
    m = list(reversed(overview.month_starts(today, 15)))  # m[k] is M-k

    def customer(name):
        return CustomerFactory(organization=organization, external_id=name.lower(), name=name,
                               payment_terms_days=30)

    acme, bolt, crane, delta, echo = (customer(n) for n in ("Acme", "Bolt", "Crane", "Delta",
                                                           "Echo"))
    _contract(acme, (m[14], None, "100.00"))
    _contract(bolt, (m[2], m[2].replace(year=m[2].year + 1), "1200.00"), cadence="annual")
    _contract(crane, (m[14], m[1], "200.00"), (m[1], None, "300.00"))
    _contract(delta, (m[14], m[3], "500.00"), (m[3], None, "350.00"))
    _contract(echo, (m[14], m[4] + timedelta(days=10), "250.00"))

    billed = m[1] + timedelta(days=9)
    invoice = issued(tenant, acme, "1000.00", billed, billing_date=billed)
    issued(tenant, bolt, "1200.00", m[2], billing_date=m[2])
    with tenant.context():
        payments.payment_record_offline(invoice=invoice, amount=Decimal("1000.00"),
                                        method="bank_transfer", reference="TR-ACME",
                                        received_on=m[1] + timedelta(days=19),
                                        actor="ana@acme.test")
    InvoiceFactory(customer=crane, total=Decimal("300.00"), billing_date=today)

    MeterFactory(organization=organization, key="api_calls", name="API calls",
                 event_name="api_call")
    noon = [datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=UTC)
            + timedelta(hours=12) for days in (1, 1, 1, 2)]
    Scenario(tenant).events(*[(f"e{i}", "acme", "api_call", at.isoformat(), {})
                              for i, at in enumerate(noon)])
    return {"months": m, "invoice": invoice}


def _chart(page, canvas: str):
    """What Chart.js drew on ``canvas``: each dataset's label and numbers."""
    return page.evaluate(
        """(id) => { const chart = Chart.getChart(id);
                     return chart && chart.data.datasets.map(d => [d.label, d.data]); }""",
        canvas)


def _click_bar(page, canvas: str, dataset: int, index: int) -> None:
    """Click the middle of a bar as a person would: where Chart.js drew it on the canvas."""
    point = page.evaluate(
        """([id, dataset, index]) => {
             const chart = Chart.getChart(id);
             chart.canvas.scrollIntoView({block: "center"});
             const bar = chart.getDatasetMeta(dataset).data[index].getCenterPoint();
             const box = chart.canvas.getBoundingClientRect();
             return {x: box.left + bar.x, y: box.top + bar.y}; }""",
        [canvas, dataset, index])
    page.mouse.click(point["x"], point["y"])


def test_the_overview_charts_the_business_and_each_figure_opens_its_list(
        live_server, page, tenant, make_user, business, artifacts):
    m = business["months"]
    labels = [f"{month:%Y-%m}" for month in reversed(m[:12])]  # M-11 ... M0
    at = {k: labels.index(f"{m[k]:%Y-%m}") for k in range(12)}  # M-k's place on a chart
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    sign_in(page, live_server.url, tenant.organization, make_user)

    expect(page.locator("h1")).to_have_text(tenant.organization.name)
    assert page.locator("nav a.active").inner_text() == "Home"
    expect(page.get_by_test_id("mrr").locator(".figure-value")).to_have_text("$850.00")
    expect(page.get_by_test_id("arr").locator(".figure-value")).to_have_text("$10,200.00")

    # MRR's movement, from the customers worked out above.
    def only(**places):
        values = [0] * 12
        for k, amount in places.items():
            values[at[int(k[1:])]] = amount
        return values

    assert _chart(page, "mrr-chart-USD") == [
        ["New", only(m2=100)], ["Expansion", only(m1=100)], ["Contraction", only(m3=-150)],
        ["Churn", only(m4=-250)], ["Net", only(m1=100, m2=100, m3=-150, m4=-250)]]
    assert _chart(page, "billed-chart-USD") == [["Billed (USD)", only(m1=1000, m2=1200)]]
    assert _chart(page, "collected-chart-USD") == [["Collected (USD)", only(m1=1000)]]
    [[meter, events]] = _chart(page, "usage-trend-chart")
    assert (meter, events[-3:]) == ("API calls", [1, 3, 0])  # the day before, yesterday, today
    # The charts come first: every chart's card sits above the cards that need a person.
    tops = page.evaluate("""() => [...document.querySelectorAll('.overview > section')]
        .map(s => [s.dataset.testid, s.getBoundingClientRect().top])""")
    chart_tops = [top for testid, top in tops if testid in (
        "overview-mrr", "overview-usage", "overview-billed", "overview-collected",
        "overview-recognized")]
    list_tops = [top for testid, top in tops if testid in (
        "overview-renewals", "overview-attention", "overview-top-customers",
        "overview-receivables")]
    assert max(chart_tops) < min(list_tops)
    assert problems == []
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    # A figure: the drafts awaiting review open the invoice list filtered to drafts.
    expect(page.get_by_test_id("drafts").locator(".figure-value")).to_have_text("1")
    page.get_by_test_id("drafts").click()
    page.wait_for_url(re.compile(r"/invoices/\?status=draft$"))
    expect(page.get_by_test_id("invoice-row")).to_have_count(1)
    expect(page.get_by_test_id("invoice-row")).to_contain_text("Crane")
    expect(page.get_by_role("navigation", name="Filter by status")
           .locator("a[aria-current=page]")).to_contain_text("Draft")

    # A bar: last month's billed bar opens last month's invoices -- Acme's.
    page.go_back()
    page.wait_for_function("() => window.Chart && Chart.getChart('billed-chart-USD')")
    _click_bar(page, "billed-chart-USD", 0, at[1])
    page.wait_for_url(re.compile(rf"/invoices/\?currency=USD&issued_from={m[1]:%Y-%m-%d}&"))
    row = page.get_by_test_id("invoice-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Acme")
    expect(row).to_contain_text("$1,000.00")

    # A month of MRR: the contraction's bar opens the customers behind it, on this page.
    page.go_back()
    page.wait_for_function("() => window.Chart && Chart.getChart('mrr-chart-USD')")
    _click_bar(page, "mrr-chart-USD", 2, at[3])  # dataset 2: Contraction
    changes = page.get_by_test_id("mrr-changes")
    expect(changes).to_have_attribute("open", "")
    moved = page.locator(f"#mrr-USD-{m[3]:%Y-%m}")
    expect(moved).to_be_visible()
    expect(moved).to_contain_text("Delta")
    expect(moved).to_contain_text("Contraction")
    expect(moved).to_contain_text("−$150.00")
    assert page.url.endswith(f"#mrr-USD-{m[3]:%Y-%m}")
    # ... and on to the customer.
    moved.get_by_role("link", name="Delta").click()
    page.wait_for_url(re.compile(r"/customers/[0-9a-f-]+/$"))
    expect(page.locator("h1")).to_contain_text("Delta")

    # On a phone the cards stack, one a row: the page never scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    page.wait_for_function("() => window.Chart && Chart.getChart('mrr-chart-USD')")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert problems == []
