"""The ledger's worked examples, each entry written out by hand: a year billed upfront and
recognized by day, a bundle allocated by standalone selling price, usage accrued at month end
then invoiced, a prepaid block drawn down then expired, a mid-year upgrade treated
prospectively. Every figure below is the test's own arithmetic, in the comments."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from invoicing import services as invoicing
from invoicing.models import Invoice, InvoiceLine
from revrec import postings, recognition
from revrec.models import Account, JournalEntry, JournalLine, RevenueSchedule
from tests.support.factories import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    ProductFactory,
)
from tests.support.ledger import account_balances, recognize_through
from tests.support.scenario import flat, prepaid

pytestmark = pytest.mark.django_db

Key = Account.SystemKey
D = Decimal


def _lines(tenant, source_type):
    """[(effective date, system key, debit, credit)] of the entries of ``source_type``."""
    with tenant.context():
        rows = (JournalLine.objects.for_organization(tenant.organization)
                .filter(entry__source_type=source_type)
                .select_related("entry", "account")
                .order_by("entry__effective_date", "entry__posted_at", "position"))
        return [(line.entry.effective_date, line.account.system_key, line.debit, line.credit)
                for line in rows]


def _revenue_by_month(tenant):
    """{(year, month): revenue earned} -- credits less debits on the revenue account."""
    months: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    with tenant.context():
        rows = (JournalLine.objects.for_organization(tenant.organization)
                .filter(account__system_key=Key.REVENUE).select_related("entry"))
        for line in rows:
            day = line.entry.effective_date
            months[(day.year, day.month)] += line.credit - line.debit
    return dict(months)


def _product(scenario, sku, rule, kind="recurring", ssp=None):
    body = {"name": sku.title(), "sku": sku, "kind": kind, "revenue_rule": rule}
    if ssp is not None:
        body |= {"standalone_selling_price": ssp, "ssp_currency": "USD"}
    return scenario.post("products", body)


def _generate(tenant, today: date) -> None:
    """The drafts due by ``today``, as the scheduled run makes them (not yet final)."""
    with tenant.context():
        invoicing.invoices_generate(organization=tenant.organization, today=today)


def _bill(scenario, tenant, contract_id, today: date) -> dict:
    """Generate on ``today`` and finalize its drafts that day (their issue date): the invoice
    of the billing date ``today``."""
    _generate(tenant, today)
    noon = datetime.combine(today, time(12), tzinfo=UTC)
    with tenant.context():
        for invoice in Invoice.objects.for_organization(tenant.organization).filter(
                status=Invoice.Status.DRAFT, billing_date__lte=today):
            invoicing.invoice_finalize(invoice=invoice, now=noon)
    return next((i for i in scenario.invoices(contract_id)
                 if i["billing_date"] == today.isoformat()), {})


# --- 1. A year billed upfront, recognized ratably by day ---------------------------------------


def test_twelve_thousand_a_year_upfront_recognized_by_day(scenario, tenant):
    """$12,000 for 2026, invoiced on Jan 1, earned evenly over its 365 days.

    Finalized:  Dr AR 12,000.00 / Cr deferred revenue 12,000.00
    January (31 days):   12,000 x 31/365 = 1,019.178... -> 1,019.18
    Through February (59 days): 12,000 x 59/365 = 1,939.726... -> 1,939.73, so February
    earns 1,939.73 - 1,019.18 = 920.55 (fewer days than January)
    Each run posts Dr deferred revenue / Cr revenue for what the days earned."""
    scenario.customer()
    scenario.product("PLATFORM")  # ratable
    contract = scenario.contract(cadence="annual", items=[flat("PLATFORM", "12000.00")])
    invoice = _bill(scenario, tenant, contract["id"], date(2026, 1, 1))
    assert (invoice["total"], invoice["issue_date"]) == ("12000.00", "2026-01-01")
    assert [row[1:] for row in _lines(tenant, postings.FINALIZED)] == [
        (Key.ACCOUNTS_RECEIVABLE, D("12000.00"), D("0")),
        (Key.DEFERRED_REVENUE, D("0"), D("12000.00"))]

    recognize_through(tenant, date(2026, 1, 31))  # a run that caught up all of January at once
    for day in range(1, 29):  # then one run a day through February
        recognize_through(tenant, date(2026, 2, day))
    recognize_through(tenant, date(2026, 2, 28))  # a second run of a day recognizes nothing

    months = _revenue_by_month(tenant)
    assert months[(2026, 1)] == D("1019.18")
    assert months[(2026, 2)] == D("920.55")
    january = [row for row in _lines(tenant, recognition.RECOGNIZED)
               if row[0] == date(2026, 1, 31)]
    assert january == [(date(2026, 1, 31), Key.DEFERRED_REVENUE, D("1019.18"), D("0")),
                       (date(2026, 1, 31), Key.REVENUE, D("0"), D("1019.18"))]
    # 28 February days, one entry each: 2 lines a day
    february = [row for row in _lines(tenant, recognition.RECOGNIZED) if row[0].month == 2]
    assert len(february) == 2 * 28
    # 12,000 - 1,939.73 still deferred; AR still 12,000 (unpaid)
    assert account_balances(tenant) == {Key.ACCOUNTS_RECEIVABLE: D("12000.00"),
                                 Key.DEFERRED_REVENUE: D("-10060.27"),
                                 Key.REVENUE: D("-1939.73")}

    recognize_through(tenant, date(2026, 12, 31))  # the whole year: exactly the price, to the cent
    assert sum(_revenue_by_month(tenant).values()) == D("12000.00")
    assert Key.DEFERRED_REVENUE not in account_balances(tenant)


# --- 2. A bundle sold at a discount, allocated by standalone selling price ---------------------


def test_a_license_and_support_bundle_at_ten_percent_off_is_allocated_by_ssp(tenant):
    """A perpetual license (earned at a point in time; standalone price 10,000) and a year
    of support (ratable; standalone 2,000) priced 9,500 + 2,500 = 12,000 on the invoice, less
    a 10 % bundle discount of 1,200: a transaction price of 10,800.

    Allocated by relative standalone price, not by the invoice's lines:
      license 10,800 x 10,000 / 12,000 = 9,000.00 (billed net 9,500 - 950 = 8,550)
      support 10,800 x  2,000 / 12,000 = 1,800.00 (billed net 2,500 - 250 = 2,250)
    Finalized:  Dr AR 10,800 / Cr revenue 9,000 (license) + Cr deferred revenue 1,800
    (support); the discount line is folded into the two.
    Support's January: 1,800 x 31/365 = 152.876... -> 152.88."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, country="US", currency="USD")
    license_ = ProductFactory(organization=organization, sku="LICENSE",
                              revenue_rule="point_in_time", kind="one_time",
                              standalone_selling_price=D("10000"), ssp_currency="USD")
    support = ProductFactory(organization=organization, sku="SUPPORT", revenue_rule="ratable",
                             standalone_selling_price=D("2000"), ssp_currency="USD")
    invoice = InvoiceFactory(customer=customer, manual=True)
    year = {"period_start": date(2026, 1, 1), "period_end": date(2027, 1, 1)}
    InvoiceLineFactory(invoice=invoice, position=0, product=license_, amount=D("9500.00"),
                       kind=InvoiceLine.Kind.ONE_TIME, description="License")
    InvoiceLineFactory(invoice=invoice, position=1, product=support, amount=D("2500.00"),
                       description="Support 2026", **year)
    InvoiceLineFactory(invoice=invoice, position=2, amount=D("-1200.00"),
                       kind=InvoiceLine.Kind.DISCOUNT, description="Bundle discount 10 %")
    with tenant.context():
        invoice = invoicing.invoice_finalize(
            invoice=invoice, recompute=False, now=datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert (invoice.total, invoice.issue_date) == (D("10800.00"), date(2026, 1, 1))

    with tenant.context():
        entry = JournalEntry.objects.for_organization(organization).get(
            source_type=postings.FINALIZED)
        by_product = [(line.account.system_key, line.product_id, line.debit, line.credit)
                      for line in entry.lines.select_related("account").order_by("position")]
    assert by_product == [
        (Key.ACCOUNTS_RECEIVABLE, None, D("10800.00"), D("0")),
        (Key.REVENUE, license_.id, D("0"), D("9000.00")),
        (Key.DEFERRED_REVENUE, support.id, D("0"), D("1800.00")),
    ]
    with tenant.context():
        schedule = RevenueSchedule.objects.for_organization(organization).get()
    assert (schedule.amount, schedule.billed, schedule.product_id) == (
        D("1800.00"), D("2500.00"), support.id)

    recognize_through(tenant, date(2026, 1, 31))
    assert _revenue_by_month(tenant)[(2026, 1)] == D("9000.00") + D("152.88")


# --- 3. Usage in arrears: accrued at month end, then invoiced ----------------------------------


def test_usage_is_accrued_at_month_end_then_invoiced(scenario, tenant):
    """1,234 API calls in January at 0.10: 123.40, billed in arrears on Feb 1 -- a draft
    that waits for late usage before it is final.

    Jan 31 (the period ended, not yet invoiced): Dr unbilled revenue 123.40 / Cr revenue
    123.40 -- January's revenue is in January.
    Feb 1 finalized: Dr AR 123.40 / Cr unbilled revenue 123.40: the asset becomes a
    receivable, and February earns nothing from January's usage."""
    scenario.customer()
    _product(scenario, "API", "as_used", kind="usage")
    scenario.meter("api_calls", event_name="api_call", aggregation="sum",
                   value_property="$.calls")
    contract = scenario.contract(items=[
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "0.10"}}])
    scenario.events(("c1", "acme", "api_call", "2026-01-10T00:00:00Z", {"calls": 1000}),
                    ("c2", "acme", "api_call", "2026-01-20T00:00:00Z", {"calls": 234}))
    _generate(tenant, date(2026, 2, 1))
    [invoice] = [i for i in scenario.invoices(contract["id"]) if i["billing_date"] == "2026-02-01"]
    assert (invoice["status"], invoice["total"]) == ("draft", "123.40")

    with tenant.context():
        accrued = postings.usage_accrue(organization=tenant.organization,
                                        through=date(2026, 1, 31))
        again = postings.usage_accrue(organization=tenant.organization,
                                      through=date(2026, 1, 31))
    assert (accrued, again) == (1, 0)
    assert _lines(tenant, postings.ACCRUED) == [
        (date(2026, 1, 31), Key.UNBILLED_REVENUE, D("123.40"), D("0")),
        (date(2026, 1, 31), Key.REVENUE, D("0"), D("123.40"))]

    _bill(scenario, tenant, contract["id"], date(2026, 2, 3))
    assert [row[1:] for row in _lines(tenant, postings.FINALIZED)] == [
        (Key.ACCOUNTS_RECEIVABLE, D("123.40"), D("0")),
        (Key.UNBILLED_REVENUE, D("0"), D("123.40"))]
    assert _revenue_by_month(tenant) == {(2026, 1): D("123.40")}
    assert account_balances(tenant) == {Key.ACCOUNTS_RECEIVABLE: D("123.40"),
                                 Key.REVENUE: D("-123.40")}


# --- 4. A prepaid block drawn down, the rest expired as breakage -------------------------------


def test_a_hundred_prepaid_hours_drawn_down_then_the_rest_expires(scenario, tenant):
    """100 compute hours bought for 20.00 on Jan 1, for the first quarter only (the phase
    ends Apr 1): deferred until used.

    Jan 1 finalized: Dr AR 20.00 / Cr deferred revenue 20.00
    January, 30 hours used (invoiced Feb 1): 20.00 x 30/100 = 6.00 earned
    February, 45 more (invoiced Mar 1): 20.00 x 75/100 = 15.00 earned so far, 9.00 of it now
    March, none.  Apr 1, the block expires with 25 hours unused: breakage 20.00 - 15.00 =
    5.00, earned the day it expires. In all: 6.00 + 9.00 + 5.00 = 20.00, the price."""
    contract = prepaid(scenario, end="2026-04-01")
    scenario.events(("h1", "acme", "compute", "2026-01-10T00:00:00Z", {"hours": 30}),
                    ("h2", "acme", "compute", "2026-02-10T00:00:00Z", {"hours": 45}))
    for month in (1, 2, 3, 4):
        _bill(scenario, tenant, contract["id"], date(2026, month, 1))
    totals = scenario.totals(contract["id"])
    assert totals["2026-01-01"] == "20.00"  # the block; no overage after: 75 < 100 hours

    recognize_through(tenant, date(2026, 4, 1))
    assert _lines(tenant, "revenue.drawdown") == [
        (date(2026, 1, 31), Key.DEFERRED_REVENUE, D("6.00"), D("0")),
        (date(2026, 1, 31), Key.REVENUE, D("0"), D("6.00")),
        (date(2026, 2, 28), Key.DEFERRED_REVENUE, D("9.00"), D("0")),
        (date(2026, 2, 28), Key.REVENUE, D("0"), D("9.00"))]
    assert _lines(tenant, "revenue.breakage") == [
        (date(2026, 4, 1), Key.DEFERRED_REVENUE, D("5.00"), D("0")),
        (date(2026, 4, 1), Key.REVENUE, D("0"), D("5.00"))]
    assert sum(_revenue_by_month(tenant).values()) == D("20.00")
    assert Key.DEFERRED_REVENUE not in account_balances(tenant)


# --- 5. A mid-year upgrade, prospectively -------------------------------------------------------


def test_a_mid_year_upgrade_is_recognized_prospectively(scenario, tenant):
    """12,000 for 2026 billed upfront; upgraded on Jul 1 to 24,000 a year. The amendment's
    invoice credits the unused half of the old price and charges the new one for the rest of
    the year (Jul 1 - Dec 31: 184 of 365 days):
      credit   -12,000 x 184/365 = -6,049.315... -> -6,049.32
      charge    24,000 x 184/365 = 12,098.630... -> 12,098.63
    Each becomes a schedule over Jul 1 - Jan 1 labelled prospective: from July on, the rest
    of the old deferral and the new price are earned over the remaining period; nothing
    already earned is restated.
    Through June (181 days): 12,000 x 181/365 = 5,950.684... -> 5,950.68, as before.
    July (31 of the remaining 184 days), schedule by schedule:
      old:    12,000 x 212/365 = 6,969.863 -> 6,969.86, less 5,950.68 = 1,019.18
      credit: -6,049.32 x 31/184 = -187,528.92/184 = -1,019.178... -> -1,019.18
      new:    12,098.63 x 31/184 = 375,057.53/184 = 2,038.356... -> 2,038.36
      July = 1,019.18 - 1,019.18 + 2,038.36 = 2,038.36: the new price's rate
      (24,000 x 31/365 = 2,038.356... -> 2,038.36)
    The year: 12,000 - 6,049.32 + 12,098.63 = 18,049.31."""
    scenario.customer()
    scenario.product("PLATFORM")
    item = flat("PLATFORM", "12000.00")
    contract = scenario.contract(cadence="annual", items=[item])
    _bill(scenario, tenant, contract["id"], date(2026, 1, 1))
    recognize_through(tenant, date(2026, 6, 30))
    assert sum(_revenue_by_month(tenant).values()) == D("5950.68")

    scenario.post(f"contracts/{contract['id']}/amendments", {
        "effective_date": "2026-07-01", "description": "Upgrade to 24,000 a year",
        "phases": [{"start_date": "2026-07-01", "end_date": "2027-01-01",
                    "items": [{**item, "pricing": {"amount": "24000.00"}}]}]})
    upgrade = _bill(scenario, tenant, contract["id"], date(2026, 7, 1))
    lines = {line["kind"]: line["amount"] for line in scenario.invoice(upgrade["id"])["lines"]}
    assert lines == {"recurring": "12098.63", "credit": "-6049.32"}
    with tenant.context():
        labels = {s.amount: s.modification for s in
                  RevenueSchedule.objects.for_organization(tenant.organization)}
    assert labels == {D("12000.00"): "", D("-6049.32"): "prospective",
                      D("12098.63"): "prospective"}

    recognize_through(tenant, date(2026, 7, 31))
    assert _revenue_by_month(tenant)[(2026, 7)] == D("2038.36")
    recognize_through(tenant, date(2026, 12, 31))
    assert sum(_revenue_by_month(tenant).values()) == D("18049.31")
    assert Key.DEFERRED_REVENUE not in account_balances(tenant)
    with tenant.context():
        assert not Invoice.objects.for_organization(tenant.organization).filter(
            status=Invoice.Status.DRAFT).exists()
