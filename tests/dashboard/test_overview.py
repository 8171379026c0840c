"""The home page is the organization's overview: each app fills its own cards (the panels of
``zenskar.dashboard.panels.HOME``), the charts first, every figure a link to the list behind
it. The figures are checked against fixtures worked out by hand, "today" being Monday
2026-06-15 (the organization's zone: UTC): the twelve months shown are July 2025 to June 2026.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from contracts import home as contracts_home
from contracts.metrics import Kind
from invoicing import home as invoicing_home
from invoicing import services as invoicing
from invoicing.failures import billing_failure_record
from invoicing.models import Invoice
from metering import home as metering_home
from payments import home as payments_home
from receivables import home as receivables_home
from receivables.selectors import aging
from revrec import home as revrec_home
from revrec import selectors as revrec_selectors
from revrec.recognition import recognize
from tests.support.factories import (
    ContractFactory,
    CustomerFactory,
    InvoiceFactory,
    MeterFactory,
    PhaseFactory,
    ProductFactory,
)
from tests.support.receivables import issued, paid
from tests.support.scenario import Scenario, flat
from zenskar.dashboard import overview, panels
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
MONTHS = overview.month_starts(TODAY)  # 2025-07-01 ... 2026-06-01
LABELS = [f"{m:%Y-%m}" for m in MONTHS]
D = Decimal


def _zeros(**months: str) -> list[str]:
    """Twelve chart figures, "0.00" but for the months named like ``m2026_04="200.00"``."""
    figures = ["0.00"] * 12
    for name, value in months.items():
        figures[LABELS.index(f"{name[1:5]}-{name[6:]}")] = value
    return figures


def _block(html: str, block_id: str) -> dict:
    """A chart's JSON block (json_script) of the page."""
    found = re.search(rf'<script id="{re.escape(block_id)}" type="application/json">(.*?)'
                      r"</script>", html, re.S)
    assert found, f"no chart block {block_id}"
    return json.loads(found.group(1))


def _series(chart: dict) -> dict[str, list[str]]:
    return {dataset["label"]: dataset["data"] for dataset in chart["datasets"]}


# --- Recurring revenue ------------------------------------------------------------------------


def _contract(customer, *phases, **fields):
    """An active contract of ``customer`` whose phases are ``(start, end, [items])``."""
    contract = ContractFactory(customer=customer, phase=None, status="active",
                               start_date=phases[0][0], end_date=phases[-1][1], **fields)
    for start, end, items in phases:
        PhaseFactory(contract=contract, start_date=start, end_date=end, items=items)
    return contract


def _fee(amount: str, **fields) -> dict:
    return {"pricing": {"amount": amount}, **fields}


@pytest.fixture
def book(tenant):
    """Six customers' contracts, in dollars unless said (monthly flat fees unless said):

    - steady:   100.00 a month since 2025-01-01, open-ended; with a usage price (per API call)
                and a one-time setup fee of 500.00, neither of them MRR.        MRR 100
    - renewer:  50.00 a month from 2025-08-01 to 2026-08-01, renewing for 12 months:
                new in August 2025; renews within 60 days of today.             MRR 50
    - newco:    1,200.00 a year (an annual contract) from 2026-03-01 to 2027-03-01:
                1,200 / 12 = 100.00 a month, new in March 2026.                 MRR 100
    - grower:   200.00 a month since 2025-01-01; from 2026-04-15 300.00 a month plus
                10 seats at 30.00 billed quarterly (300.00 a quarter = 100.00 a month):
                200 -> 400 at the end of April, an expansion of +200.           MRR 400
    - shrinker: 500.00 a month since 2025-01-01, 350.00 from 2026-05-01: a
                contraction of -150 in May.                                     MRR 350
    - leaver:   250.00 a month from 2025-01-01 to 2026-05-20 (the first day no longer
                covered): in force on May 19, not on May 31, so churn -250 in May.  MRR 0
    - euro:     90.00 EUR a month from 2026-02-01: new in February, in euros.   MRR 90 EUR
    - a draft contract of 1,000.00 a month: not signed, no MRR.

    MRR on 2025-06-30 (before the twelve months): 100 + 200 + 500 + 250 = 1,050.00.
    Movements: Aug 2025 new +50; Mar 2026 new +100; Apr expansion +200; May contraction
    -150 and churn -250 (net -400). Today: 1,050 + 50 + 100 + 200 - 400 = 1,000.00
    = 100 + 50 + 100 + 400 + 350; ARR 12 x 1,000 = 12,000.00. In euros 90.00, ARR 1,080.00.
    """
    organization = tenant.organization

    def customer(external_id, **fields):
        return CustomerFactory(organization=organization, external_id=external_id,
                               name=external_id.title(), **fields)

    one_time = ProductFactory(organization=organization, kind="one_time", sku="SETUP")
    steady = customer("steady")
    _contract(steady, (date(2025, 1, 1), None, [
        _fee("100.00"),
        {"model": "per_unit", "meter_key": "api_calls", "timing": "arrears",
         "pricing": {"unit_price": "0.01"}},
        _fee("500.00", product=one_time, cadence="one_time"),
    ]))
    renewer = _contract(customer("renewer"), (date(2025, 8, 1), date(2026, 8, 1),
                                               [_fee("50.00")]),
                        auto_renew=True, renewal_term_months=12, name="Renewer 2025")
    _contract(customer("newco"), (date(2026, 3, 1), date(2027, 3, 1), [_fee("1200.00")]),
              cadence="annual")
    _contract(customer("grower"),
              (date(2025, 1, 1), date(2026, 4, 15), [_fee("200.00")]),
              (date(2026, 4, 15), None, [
                  _fee("300.00"),
                  {"model": "per_unit", "quantity": D("10"), "cadence": "quarterly",
                   "pricing": {"unit_price": "30.00"}}]))
    _contract(customer("shrinker"),
              (date(2025, 1, 1), date(2026, 5, 1), [_fee("500.00")]),
              (date(2026, 5, 1), None, [_fee("350.00")]))
    _contract(customer("leaver"), (date(2025, 1, 1), date(2026, 5, 20), [_fee("250.00")]))
    _contract(customer("euro", currency="EUR"), (date(2026, 2, 1), None, [_fee("90.00")]))
    drafty = customer("drafty")
    ContractFactory(customer=drafty, status="draft", start_date=date(2026, 1, 1),
                    end_date=None, phase__items=[_fee("1000.00")])
    return {"renewer": renewer}


def test_mrr_moves_with_a_new_an_expanded_a_contracted_and_a_churned_customer(tenant, book):
    with tenant.context():
        report = contracts_home.mrr_report(organization=tenant.organization, today=TODAY)

    usd, eur = report.currencies  # the organization's currency first
    assert (usd.currency, usd.mrr, usd.arr, usd.customers) == ("USD", D(1000), D(12000), 5)
    assert (eur.currency, eur.mrr, eur.arr, eur.customers) == ("EUR", D(90), D(1080), 1)

    months = {f"{m.month:%Y-%m}": m for m in usd.movements}
    assert list(months) == LABELS
    assert usd.movements[0].opening == D(1050)
    moved = {label: (m.new, m.expansion, m.contraction, m.churn, m.net)
             for label, m in months.items() if m.changes}
    assert moved == {
        "2025-08": (D(50), D(0), D(0), D(0), D(50)),
        "2026-03": (D(100), D(0), D(0), D(0), D(100)),
        "2026-04": (D(0), D(200), D(0), D(0), D(200)),
        "2026-05": (D(0), D(0), D(-150), D(-250), D(-400)),
    }
    assert usd.movements[-1].closing == D(1000)
    names = report.names
    assert [(names[c.customer], c.kind, c.before, c.after)
            for c in months["2026-05"].changes] == [
        ("Leaver", Kind.CHURN, D(250), D(0)), ("Shrinker", Kind.CONTRACTION, D(500), D(350))]
    assert [(names[c.customer], c.kind) for c in months["2026-04"].changes] == [
        ("Grower", Kind.EXPANSION)]
    assert [(f"{m.month:%Y-%m}", m.new) for m in eur.movements if m.changes] == [
        ("2026-02", D(90))]


def test_the_contracts_ending_in_the_next_60_days_are_the_upcoming_renewals(tenant, book):
    # Today 06-15: ends within (06-15, 08-14]. The renewer's 08-01 is; newco's 2027-03-01 is
    # not; the leaver's 05-20 is past; the open-ended ones never end.
    with tenant.context():
        upcoming, count = contracts_home.renewals(organization=tenant.organization, today=TODAY)
    assert ([c.id for c in upcoming], count) == ([book["renewer"].id], 1)


def test_the_home_page_draws_mrr_and_its_movement_and_links_each_figure(
        client, signed_in, tenant, book, clock):
    clock.at(NOW)
    signed_in(Role.VIEWER)
    html = client.get("/").content.decode()

    mrr = re.search(r'<a class="overview-figure" href="([^"]+)" data-testid="mrr">(.*?)</a>',
                    html, re.S)
    assert mrr and mrr.group(1) == "/contracts/?status=active" and "$1,000.00" in mrr.group(2)
    assert re.search(r'data-testid="arr"><span class="stat-label">ARR</span>'
                     r'<span class="figure-value">\$12,000.00<', html)
    assert "€90.00" in html and "€1,080.00" in html
    chart = _block(html, "mrr-chart-USD-data")
    assert (chart["type"], chart["currency"], chart["labels"]) == ("bar", "USD", LABELS)
    assert _series(chart) == {
        "New": _zeros(m2025_08="50.00", m2026_03="100.00"),
        "Expansion": _zeros(m2026_04="200.00"),
        "Contraction": _zeros(m2026_05="-150.00"),
        "Churn": _zeros(m2026_05="-250.00"),
        "Net": _zeros(m2025_08="50.00", m2026_03="100.00", m2026_04="200.00",
                      m2026_05="-400.00"),
    }
    # A month's bar opens the customers behind it: May's row (the first of the month).
    assert chart["links"][LABELS.index("2026-05")] == "#mrr-USD-2026-05"
    assert 'id="mrr-USD-2026-05" data-testid="mrr-change" data-month="2026-05"' in html
    # The customers that moved: Aug, Mar, Apr and May twice in dollars; Feb in euros.
    assert html.count('data-testid="mrr-change"') == 6
    # The upcoming renewal, linked to its contract.
    assert f'href="/contracts/{book["renewer"].id}/">Renewer 2025</a>' in html


# --- Billed, collected, what is owed, what needs a person --------------------------------------


@pytest.fixture
def money(tenant, clock):
    """Invoices issued and paid by hand (no tax; terms 30 days, so due 30 days after issue):

    USD, acme:    A 1,000.00 issued 2026-04-10, due 05-10; 400.00 received 05-15
                  B   500.00 issued 2026-06-02, due 07-02
    USD, globex:  C   300.00 issued 2026-05-20, paid in full 06-01
                  V   999.00 issued 2026-05-25 and voided: never billed
                  a draft of 75.00 awaiting review
    EUR, initech: E   200.00 issued 2026-03-05, due 04-04

    Billed (by issue month): USD April 1,000.00, May 300.00, June 500.00 = 1,800.00;
    EUR March 200.00. Collected (by the day received): USD May 400.00, June 300.00 =
    700.00. Top customers: acme 1,500.00, globex 300.00; initech 200.00 EUR.
    Owed on 06-15: USD A 600.00 (overdue since 05-10) + B 500.00 (not yet due) = 1,100.00
    open, 600.00 overdue; EUR E 200.00, all of it overdue (since 04-04).
    One contract could not be billed (a generation failure).
    """
    organization = tenant.organization
    acme = CustomerFactory(organization=organization, external_id="acme", name="Acme",
                           payment_terms_days=30)
    globex = CustomerFactory(organization=organization, external_id="globex", name="Globex",
                             payment_terms_days=30)
    initech = CustomerFactory(organization=organization, external_id="initech",
                              name="Initech", currency="EUR", payment_terms_days=30)
    a = issued(tenant, acme, "1000.00", date(2026, 4, 10))
    issued(tenant, acme, "500.00", date(2026, 6, 2))
    c = issued(tenant, globex, "300.00", date(2026, 5, 20))
    v = issued(tenant, globex, "999.00", date(2026, 5, 25))
    issued(tenant, initech, "200.00", date(2026, 3, 5))
    paid(tenant, clock, a, "400.00", date(2026, 5, 15))
    paid(tenant, clock, c, "300.00", date(2026, 6, 1))
    with tenant.context():
        invoicing.invoice_void(invoice=v, actor="ana@acme.test")
    InvoiceFactory(customer=globex, total=D("75.00"))  # a draft
    failing = ContractFactory(customer=acme, status="active", name="Acme 2026")
    with tenant.context():
        billing_failure_record(organization=organization, stage="generation",
                               error=ValueError("The price has no amount."), contract=failing,
                               now=NOW)
    clock.at(NOW)
    return {"acme": acme, "globex": globex, "failing": failing}


def test_billed_collected_and_the_top_customers_by_month(tenant, money):
    with tenant.context():
        billed = invoicing_home.billed_by_month(organization=tenant.organization, months=MONTHS)
        collected = payments_home.collected_by_month(organization=tenant.organization,
                                                     months=MONTHS)
        top = invoicing_home.top_customers(organization=tenant.organization, start=MONTHS[0],
                                           end=TODAY)
        drafts = invoicing_home.drafts_awaiting_review(organization=tenant.organization)

    by_month = dict(zip(LABELS, billed["USD"], strict=True))
    assert list(billed) == ["USD", "EUR"]
    assert {m: a for m, a in by_month.items() if a} == {
        "2026-04": D("1000.00"), "2026-05": D("300.00"), "2026-06": D("500.00")}
    assert {m: a for m, a in zip(LABELS, billed["EUR"], strict=True) if a} == {
        "2026-03": D("200.00")}
    assert {m: a for m, a in zip(LABELS, collected["USD"], strict=True) if a} == {
        "2026-05": D("400.00"), "2026-06": D("300.00")}
    assert list(collected) == ["USD"]
    assert [(row.name, row.billed) for row in top["USD"]] == [
        ("Acme", D("1500.00")), ("Globex", D("300.00"))]
    assert [(row.name, row.billed) for row in top["EUR"]] == [("Initech", D("200.00"))]
    assert drafts == 1


def test_open_and_overdue_receivables_are_the_agings_at_today(tenant, money):
    with tenant.context():
        usd, eur = receivables_home.owed(organization=tenant.organization, today=TODAY)
        report = aging(organization=tenant.organization, as_of=TODAY).totals()
    assert (usd.currency, usd.open, usd.overdue, usd.invoices, usd.overdue_invoices) == (
        "USD", D("1100.00"), D("600.00"), 2, 1)
    assert (eur.currency, eur.open, eur.overdue) == ("EUR", D("200.00"), D("200.00"))
    # the same figures as the Receivables page's aging on the day
    assert report["USD"]["total"] == "1100.00" and report["EUR"]["total"] == "200.00"
    assert report["USD"]["buckets"]["current"] == "500.00"


def test_the_home_page_shows_the_money_and_links_each_figure_to_its_list(
        client, signed_in, tenant, money):
    signed_in(Role.VIEWER)
    html = client.get("/").content.decode()

    billed = _block(html, "billed-chart-USD-data")
    assert _series(billed) == {"Billed (USD)": _zeros(
        m2026_04="1000.00", m2026_05="300.00", m2026_06="500.00")}
    # April's bar opens the dollar invoices issued in April
    assert billed["links"][LABELS.index("2026-04")] == \
        "/invoices/?currency=USD&issued_from=2026-04-01&issued_to=2026-04-30"
    assert _series(_block(html, "billed-chart-EUR-data")) == {
        "Billed (EUR)": _zeros(m2026_03="200.00")}
    assert _series(_block(html, "collected-chart-USD-data")) == {
        "Collected (USD)": _zeros(m2026_05="400.00", m2026_06="300.00")}

    def figure(testid):
        found = re.search(rf'href="([^"]+)" data-testid="{testid}">(.*?)</a>', html, re.S)
        assert found, testid
        return found.group(1).replace("&amp;", "&"), re.sub(r"<[^>]+>", " ", found.group(2))

    href, text = figure("billed-total")
    assert href == "/invoices/?currency=USD&issued_from=2025-07-01&issued_to=2026-06-30"
    assert "$1,800.00" in text
    href, text = figure("collected-total")
    assert href == "/payments/?status=succeeded" and "$700.00" in text
    href, text = figure("drafts")
    assert href == "/invoices/?status=draft" and text.split()[-1] == "1"
    href, text = figure("billing-failures-count")
    assert href == "/invoices/" and text.split()[-1] == "1"
    assert f'href="/contracts/{money["failing"].id}/">Acme 2026</a>' in html
    [usd_open, eur_open] = re.findall(r'href="/receivables/" data-testid="receivables-open">'
                                      r'(.*?)</a>', html, re.S)
    assert "$1,100.00" in usd_open and "€200.00" in eur_open
    overdue = re.findall(r'href="/invoices/\?status=overdue" data-testid="receivables-overdue">'
                         r'(.*?)</a>', html, re.S)
    assert "$600.00" in overdue[0] and "€200.00" in overdue[1]
    # Top customers: the name opens the customer, the amount the customer's invoices.
    acme = money["acme"]
    assert f'<a href="/customers/{acme.id}/">Acme</a>' in html
    assert ('href="/invoices/?customer=acme&amp;currency=USD&amp;issued_from=2025-07-01&amp;'
            'issued_to=2026-06-30" data-testid="top-customer-billed">$1,500.00</a>') in html


# --- Recognized, usage ------------------------------------------------------------------------


def test_recognized_by_month_is_the_ledgers_revenue(tenant):
    """1,200.00 a year for 2026 billed in advance on Jan 5 (ratable), recognized through
    Mar 31 day by day and rounded once on the cumulative amount: by Feb 1, 1,200 x 31/365 =
    101.917... -> 101.92; by Mar 1, 1,200 x 59/365 = 193.972... -> 193.97; by Apr 1,
    1,200 x 90/365 = 295.890... -> 295.89. So January 101.92, February 193.97 - 101.92 =
    92.05, March 295.89 - 193.97 = 101.92."""
    scenario = Scenario(tenant)
    scenario.patch_settings(auto_finalize=False)
    scenario.customer("acme", name="Acme Corp")
    scenario.product("PLATFORM")
    contract = scenario.contract(cadence="annual", items=[flat("PLATFORM", "1200.00")])
    scenario.run("2026-01-05")
    [draft] = scenario.invoices(contract["id"])
    with tenant.context():
        invoice = Invoice.objects.for_organization(tenant.organization).get(id=draft["id"])
        invoicing.invoice_finalize(invoice=invoice, now=datetime(2026, 1, 5, 12, tzinfo=UTC))
        recognize(organization=tenant.organization, through=date(2026, 3, 31))
        recognized = revrec_home.recognized_by_month(organization=tenant.organization,
                                                     months=MONTHS)
        report = revrec_selectors.revenue_by_month(
            organization=tenant.organization, start=MONTHS[0], end=TODAY, currency="USD")

    figures = {m: a for m, a in zip(LABELS, recognized["USD"], strict=True) if a}
    assert figures == {"2026-01": D("101.92"), "2026-02": D("92.05"), "2026-03": D("101.92")}
    assert tuple(recognized["USD"]) == report.totals  # the Revenue page's figures


def test_usage_trends_count_each_meters_events_per_day(tenant):
    """Thirty days to Jun 15: May 17 to Jun 15. api_call events: 2 on Jun 14, 1 on Jun 15,
    1 on May 20 -- and 1 on May 16, the day before the window, not counted. No login event:
    its meter draws a flat line, after the busier one."""
    organization = tenant.organization
    logins = MeterFactory(organization=organization, key="logins", name="Logins",
                          event_name="login")
    calls = MeterFactory(organization=organization, key="api_calls", name="API calls",
                         event_name="api_call")
    scenario = Scenario(tenant)
    at = "2026-{}T{}:00:00Z".format
    scenario.events(*[(f"e{i}", "acme", "api_call", at(day, hour), {})
                      for i, (day, hour) in enumerate([("06-14", "09"), ("06-14", "23"),
                                                       ("06-15", "01"), ("05-20", "12"),
                                                       ("05-16", "12")])])
    with tenant.context():
        days, trends = metering_home.usage_trends(organization=organization, today=TODAY)

    assert (days[0], days[-1], len(days)) == (date(2026, 5, 17), TODAY, 30)
    assert [(t.meter.id, t.total) for t in trends] == [(calls.id, 4), (logins.id, 0)]
    counts = dict(zip(days, trends[0].counts, strict=True))
    assert {day: n for day, n in counts.items() if n} == {
        date(2026, 5, 20): 1, date(2026, 6, 14): 2, date(2026, 6, 15): 1}


# --- The page ---------------------------------------------------------------------------------


def test_every_app_fills_the_home_page_charts_first(client, signed_in):
    signed_in(Role.VIEWER)
    html = client.get("/").content.decode()
    cards = re.findall(r'<section class="card overview-card (overview-\w+) span-\d+" '
                       r'data-testid="(overview-[\w-]+)"', html)
    assert [testid for _, testid in cards] == [
        "overview-mrr", "overview-renewals", "overview-usage", "overview-billed",
        "overview-attention", "overview-top-customers", "overview-collected",
        "overview-recognized", "overview-receivables"]
    # The charts come first on the page (the grid's order), what needs a person after.
    charts = {testid for kind, testid in cards if kind == "overview-chart"}
    assert charts == {"overview-mrr", "overview-usage", "overview-billed", "overview-collected",
                      "overview-recognized"}
    for empty in ("no-mrr", "no-meters", "no-billed", "no-collected", "no-recognized",
                  "no-receivables"):
        assert f'data-testid="{empty}"' in html, empty
    assert 'src="/static/js/overview.js"' in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert panels.HOME in panels.SLOTS


def test_another_organizations_money_is_not_on_the_home_page(
        client, signed_in, other_tenant, clock):
    customer = CustomerFactory(organization=other_tenant.organization, external_id="other",
                               name="Other Co")
    _contract(customer, (date(2026, 1, 1), None, [_fee("777.00")]))
    issued(other_tenant, customer, "888.00", date(2026, 6, 1))
    clock.at(NOW)
    signed_in(Role.VIEWER)
    html = client.get("/").content.decode()
    assert "$777.00" not in html and "$888.00" not in html and "Other Co" not in html
    assert 'data-testid="no-mrr"' in html and 'data-testid="no-billed"' in html
