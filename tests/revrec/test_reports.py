"""The ledger's reports (``revrec.selectors``), each figure worked out by hand beside its
assert: an account month by month, revenue by month by product and by customer, the deferred
revenue waterfall, unbilled revenue, billed vs recognized vs collected from real billing
events, the journal with its drill-down links, and the export."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing import services as invoicing
from payments.models import Payment
from revrec import selectors
from revrec.models import Account, JournalEntry, RevenueSchedule
from revrec.recognition import recognize, schedule_create
from revrec.services import Posting, Refs, account_update, accounts_ensure, entry_post
from tests.support.factories import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    ProductFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db

Key = Account.SystemKey
D = Decimal
JAN_1, MAR_31 = date(2026, 1, 1), date(2026, 3, 31)


def _post(organization, source_id, day, lines, currency="USD", source_type="test.event"):
    return entry_post(organization=organization, source_type=source_type, source_id=source_id,
                      currency=currency, effective_date=day, lines=lines)


def _sale(organization, source_id, day, amount, refs, currency="USD"):
    """Dr AR / Cr revenue ``amount``."""
    return _post(organization, source_id, day, currency=currency, lines=[
        Posting(Key.ACCOUNTS_RECEIVABLE, debit=D(amount), refs=refs),
        Posting(Key.REVENUE, credit=D(amount), refs=refs)])


@pytest.fixture
def sales(tenant):
    """Two products and two customers, and revenue posted by hand:

    | day        | entry                                                  | currency |
    | 2025-12-31 | Dr AR 7 / Cr revenue 7 (Platform, Acme)                | USD |
    | 2026-01-10 | Dr AR 140 / Cr revenue 100 (Platform, Acme), 40 (Support, Globex) | USD |
    | 2026-01-15 | Dr AR 999 / Cr revenue 999 (Platform, Acme)            | EUR |
    | 2026-02-03 | Dr deferred 60 / Cr revenue 60 (Platform, Acme)        | USD |
    | 2026-02-20 | Dr revenue 10 (Platform, Globex) / Cr AR 10: a credit  | USD |
    | 2026-02-25 | Dr AR 5 / Cr revenue 5 (no product, Acme)              | USD |
    """
    organization = tenant.organization
    platform = ProductFactory(organization=organization, sku="PLATFORM", name="Platform")
    support = ProductFactory(organization=organization, sku="SUPPORT", name="Support")
    acme = CustomerFactory(organization=organization, external_id="acme", name="Acme")
    globex = CustomerFactory(organization=organization, external_id="globex", name="Globex")
    pa, sg = Refs(product=platform.id, customer=acme.id), Refs(product=support.id,
                                                              customer=globex.id)
    with tenant.context():
        _sale(organization, "dec", date(2025, 12, 31), "7.00", pa)
        _post(organization, "jan", date(2026, 1, 10), lines=[
            Posting(Key.ACCOUNTS_RECEIVABLE, debit=D("140.00")),
            Posting(Key.REVENUE, credit=D("100.00"), refs=pa),
            Posting(Key.REVENUE, credit=D("40.00"), refs=sg)])
        _sale(organization, "jan-eur", date(2026, 1, 15), "999.00", pa, currency="EUR")
        _post(organization, "feb", date(2026, 2, 3), lines=[
            Posting(Key.DEFERRED_REVENUE, debit=D("60.00"), refs=pa),
            Posting(Key.REVENUE, credit=D("60.00"), refs=pa)])
        credit = Refs(product=platform.id, customer=globex.id)
        _post(organization, "credit", date(2026, 2, 20), lines=[
            Posting(Key.REVENUE, debit=D("10.00"), refs=credit),
            Posting(Key.ACCOUNTS_RECEIVABLE, credit=D("10.00"), refs=credit)])
        _sale(organization, "misc", date(2026, 2, 25), "5.00", Refs(customer=acme.id))
    return {"platform": platform, "support": support, "acme": acme, "globex": globex}


def test_an_accounts_closing_balance_month_by_month(tenant, sales):
    """Accounts receivable from Feb 1 to Mar 15, per currency.

    USD: opening (before Feb 1) = 7 + 140 = 147.00; February: Dr 5, Cr 10 -> 147 + 5 - 10 =
    142.00 on Feb 28; March: nothing -> 142.00 on Mar 15 (the range's end).
    EUR: opening 999.00, no movement."""
    with tenant.context():
        receivable = accounts_ensure(organization=tenant.organization)[Key.ACCOUNTS_RECEIVABLE]
        series = selectors.account_balances(organization=tenant.organization,
                                            account=receivable, start=date(2026, 2, 1),
                                            end=date(2026, 3, 15))

    assert series == {
        "EUR": [selectors.BalancePoint(date(2026, 2, 1), date(2026, 2, 28), D(0), D(0),
                                       D("999.00")),
                selectors.BalancePoint(date(2026, 3, 1), date(2026, 3, 15), D(0), D(0),
                                       D("999.00"))],
        "USD": [selectors.BalancePoint(date(2026, 2, 1), date(2026, 2, 28), D("5.00"),
                                       D("10.00"), D("142.00")),
                selectors.BalancePoint(date(2026, 3, 1), date(2026, 3, 15), D(0), D(0),
                                       D("142.00"))],
    }


def test_revenue_by_month_by_product_and_by_customer(tenant, sales):
    """January to March 2026 in USD (December's 7.00 is before the range, the EUR 999.00 is
    another currency: neither counts).

    By product: Platform Jan 100, Feb 60 - 10 (the credit) = 50 -> 150; Support Jan 40;
    "No product" Feb 5. By customer: Acme Jan 100, Feb 60 + 5 = 65 -> 165; Globex Jan 40,
    Feb -10 -> 30. Every month: Jan 140, Feb 55, Mar 0; 195 in all."""
    with tenant.context():
        by_product = selectors.revenue_by_month(organization=tenant.organization, start=JAN_1,
                                                end=MAR_31, currency="USD")
        by_customer = selectors.revenue_by_month(organization=tenant.organization,
                                                 start=JAN_1, end=MAR_31, currency="USD",
                                                 group="customer")

    months = (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1))
    assert by_product.months == by_customer.months == months
    assert [(s.key, s.label, s.amounts) for s in by_product.series] == [
        (str(sales["platform"].id), "Platform", (D("100.00"), D("50.00"), D(0))),
        (str(sales["support"].id), "Support", (D("40.00"), D(0), D(0))),
        ("", "No product", (D(0), D("5.00"), D(0))),
    ]
    assert [(s.label, s.amounts, s.total) for s in by_customer.series] == [
        ("Acme", (D("100.00"), D("65.00"), D(0)), D("165.00")),
        ("Globex", (D("40.00"), D("-10.00"), D(0)), D("30.00")),
    ]
    assert by_product.totals == by_customer.totals == (D("140.00"), D("55.00"), D(0))
    assert by_product.total == D("195.00")
    with tenant.context():
        euros = selectors.revenue_by_month(organization=tenant.organization, start=JAN_1,
                                           end=MAR_31, currency="EUR")
    assert [(s.label, s.amounts) for s in euros.series] == [
        ("Platform", (D("999.00"), D(0), D(0)))]


def test_the_report_currency_is_the_organizations_unless_the_ledger_has_none_of_it(
        tenant, other_tenant, sales):
    with tenant.context():
        assert selectors.ledger_currencies(organization=tenant.organization) == ["EUR", "USD"]
        assert selectors.report_currency(organization=tenant.organization) == "USD"
        assert selectors.report_currency(organization=tenant.organization,
                                         currency="EUR") == "EUR"
    with other_tenant.context():  # nothing posted: its own currency, and nothing of Acme's
        assert selectors.ledger_currencies(organization=other_tenant.organization) == []
        assert selectors.report_currency(organization=other_tenant.organization) == "USD"
        assert selectors.revenue_by_month(organization=other_tenant.organization, start=JAN_1,
                                          end=MAR_31, currency="USD").series == ()
        assert selectors.trial_balance(organization=other_tenant.organization) == []


# --- Deferred revenue ---------------------------------------------------------------------------


def _deferral(tenant, source, amount, day, *, method="ratable", start, end, units=None):
    """An invoice line's deferral, as the finalization posts it: Dr AR / Cr deferred revenue,
    and the line's revenue schedule."""
    organization = tenant.organization
    invoice_id, customer_id = uuid.uuid4(), uuid.uuid4()
    refs = Refs(invoice=invoice_id, customer=customer_id)
    _post(organization, source, day, lines=[
        Posting(Key.ACCOUNTS_RECEIVABLE, debit=D(amount), refs=refs),
        Posting(Key.DEFERRED_REVENUE, credit=D(amount), refs=refs)])
    return schedule_create(organization=organization, source=source, method=method,
                           currency="USD", amount=D(amount), billed=D(amount), start_date=start,
                           end_date=end, invoice_id=invoice_id, customer_id=customer_id,
                           units=units)


def test_the_deferred_revenue_waterfall(tenant):
    """As of Mar 31 2026, three months shown:

    - 1,200.00 ratable over 2026 (365 days), recognized by the run through Mar 31: 90 days,
      1,200 x 90 / 365 = 295.890... -> 295.89. Cumulative at each month's end: May 1 (120
      days) 394.520... -> 394.52; Jun 1 (151 days) 496.438... -> 496.44; Jul 1 (181 days)
      595.068... -> 595.07. April 394.52 - 295.89 = 98.63; May 496.44 - 394.52 = 101.92;
      June 595.07 - 496.44 = 98.63; later 1,200 - 595.07 = 604.93.
    - 310.00 ratable over March, made after the run: not recognized yet, so all of it lands
      in the first month (the next run recognizes it).
    - a prepaid block of 20.00, nothing drawn: 20.00 as used / at expiry.
    - an EUR schedule: another currency, not counted.
    April 98.63 + 310.00 = 408.63. In all 408.63 + 101.92 + 98.63 + 604.93 + 20.00 =
    1,234.11 = (1,200 - 295.89) + 310 + 20: what the schedules defer, and the deferred revenue
    account's balance on Mar 31 (1,200 + 310 + 20 deferred - 295.89 recognized)."""
    organization = tenant.organization
    with tenant.context():
        yearly = _deferral(tenant, "yearly", "1200.00", JAN_1, start=JAN_1,
                           end=date(2027, 1, 1))
        _deferral(tenant, "block", "20.00", JAN_1, method="drawdown", start=JAN_1,
                  end=date(2026, 12, 31), units=D(100))
        recognize(organization=organization, through=MAR_31)
        _deferral(tenant, "march", "310.00", date(2026, 3, 1), start=date(2026, 3, 1),
                  end=date(2026, 4, 1))
        schedule_create(organization=organization, source="euro", method="ratable",
                        currency="EUR", amount=D("500.00"), billed=D("500.00"),
                        start_date=JAN_1, end_date=date(2027, 1, 1), invoice_id=uuid.uuid4(),
                        customer_id=uuid.uuid4())
        yearly.refresh_from_db()
        assert (yearly.recognized, yearly.recognized_through) == (D("295.89"), date(2026, 4, 1))

        waterfall = selectors.deferred_waterfall(organization=organization, on=MAR_31,
                                                 currency="USD", months=3)

    assert waterfall.months == (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1))
    assert waterfall.amounts == (D("408.63"), D("101.92"), D("98.63"))
    assert (waterfall.later, waterfall.as_used) == (D("604.93"), D("20.00"))
    assert waterfall.schedules == 3
    assert waterfall.total == waterfall.ledger_balance == D("1234.11")


def test_a_waterfall_from_the_middle_of_a_month_starts_with_its_rest(tenant):
    """1,200.00 over 2026, recognized through Mar 31 (295.89), seen on Mar 15: the first
    month is March, whose days are recognized already (the run is ahead of the day), so it
    gets nothing; April then takes 394.52 - 295.89 = 98.63, as above; later 1,200 - 394.52."""
    with tenant.context():
        _deferral(tenant, "yearly", "1200.00", JAN_1, start=JAN_1, end=date(2027, 1, 1))
        recognize(organization=tenant.organization, through=MAR_31)
        waterfall = selectors.deferred_waterfall(organization=tenant.organization,
                                                 on=date(2026, 3, 15), currency="USD",
                                                 months=2)
    assert waterfall.months == (date(2026, 3, 1), date(2026, 4, 1))
    assert waterfall.amounts == (D(0), D("98.63"))
    assert waterfall.later == D("805.48")  # 1,200.00 - 394.52
    # the account on Mar 15 had not seen March's recognition, dated Mar 31: 1,200 - 193.97
    # (Jan 101.92 + Feb 92.05, each dated its month's last day)
    assert waterfall.ledger_balance == D("1006.03")


def test_the_waterfall_refuses_more_than_36_months(tenant):
    with pytest.raises(ValueError, match="1 to 36"):
        selectors.deferred_waterfall(organization=tenant.organization, on=MAR_31,
                                     currency="USD", months=37)


# --- Unbilled revenue ---------------------------------------------------------------------------


def test_unbilled_revenue_per_invoice(tenant):
    """Usage accrued at January's end for two drafts: 30.00 (Acme's) and 12.50 (Globex's).
    Acme's invoice is then finalized in February: its finalization clears its 30.00 (Cr
    unbilled revenue). On Jan 31 both are unbilled, 42.50; at the end only Globex's 12.50."""
    organization = tenant.organization
    acme = InvoiceFactory(customer=CustomerFactory(organization=organization, name="Acme"))
    globex = InvoiceFactory(customer=CustomerFactory(organization=organization, name="Globex"))
    with tenant.context():
        for invoice, amount in ((acme, "30.00"), (globex, "12.50")):
            refs = Refs(invoice=invoice.id, customer=invoice.customer_id)
            _post(organization, f"accrued:{invoice.id}", date(2026, 1, 31), lines=[
                Posting(Key.UNBILLED_REVENUE, debit=D(amount), refs=refs),
                Posting(Key.REVENUE, credit=D(amount), refs=refs)], source_type="revenue.accrued")
        refs = Refs(invoice=acme.id, customer=acme.customer_id)
        _post(organization, f"finalized:{acme.id}", date(2026, 2, 3), lines=[
            Posting(Key.ACCOUNTS_RECEIVABLE, debit=D("30.00"), refs=refs),
            Posting(Key.REVENUE, debit=D("30.00"), refs=refs),
            Posting(Key.REVENUE, credit=D("30.00"), refs=refs),
            Posting(Key.UNBILLED_REVENUE, credit=D("30.00"), refs=refs)])
        at_january_end = selectors.unbilled(organization=organization, on=date(2026, 1, 31))
        now = selectors.unbilled(organization=organization)

    assert at_january_end.balances == {"USD": D("42.50")}
    assert [(r.invoice_id, r.amount, r.customer) for r in at_january_end.invoices] == [
        (acme.id, D("30.00"), "Acme"), (globex.id, D("12.50"), "Globex")]
    assert now.balances == {"USD": D("12.50")}
    assert [(r.invoice_id, r.amount, r.status) for r in now.invoices] == [
        (globex.id, D("12.50"), "draft")]


# --- Billed, recognized, collected: real billing events -----------------------------------------


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def books(tenant, monkeypatch):
    """Real billing events, with a 10 % US sales tax:

    - invoice A, finalized Jan 5: 1,200.00 subscription over 2026 (ratable: deferred) + 100.00
      set-up (point in time: revenue) + tax 130.00 = 1,430.00;
    - the recognition run through Feb 28: Jan 1,200 x 31 / 365 = 101.917... -> 101.92; Feb
      cumulative 1,200 x 59 / 365 = 193.972... -> 193.97, less 101.92 = 92.05;
    - 500.00 received by bank transfer on Feb 10, for invoice A;
    - invoice B, finalized Feb 3: 50.00 of consulting (point in time) + 5.00 tax, voided on
      Mar 2 (the exact reversal, dated the day of the void)."""
    organization = tenant.organization
    TaxRateFactory(organization=organization, country="US", rate=D("10"))
    customer = CustomerFactory(organization=organization, external_id="acme", name="Acme")
    subscription = ProductFactory(organization=organization, name="Platform")
    setup = ProductFactory(organization=organization, name="Set-up",
                           revenue_rule="point_in_time")
    consulting = ProductFactory(organization=organization, name="Consulting",
                                revenue_rule="point_in_time")
    a = InvoiceFactory(customer=customer, manual=True)
    InvoiceLineFactory(invoice=a, position=0, amount=D("1200.00"), product=subscription,
                       description="Platform 2026", period_start=JAN_1,
                       period_end=date(2027, 1, 1))
    InvoiceLineFactory(invoice=a, position=1, amount=D("100.00"), product=setup,
                       description="Set-up")
    b = InvoiceFactory(customer=customer, manual=True, billing_date=date(2026, 2, 3))
    InvoiceLineFactory(invoice=b, amount=D("50.00"), product=consulting, description="Workshop")
    with tenant.context():
        a = invoicing.invoice_finalize(invoice=a, recompute=False, now=_at(date(2026, 1, 5)))
        b = invoicing.invoice_finalize(invoice=b, recompute=False, now=_at(date(2026, 2, 3)))
        assert (a.total, a.tax_total, b.total) == (D("1430.00"), D("130.00"), D("55.00"))
        recognize(organization=organization, through=date(2026, 2, 28))
        payment = Payment.objects.create(
            organization=organization, customer=customer, invoice=a, amount=D("500.00"),
            currency="USD", method="bank_transfer", status="succeeded", initiated_by="auto",
            idempotency_key="test:books", reference="TR-7", received_on=date(2026, 2, 10))
        invoicing.payment_apply(organization=organization, customer=customer, currency="USD",
                                amount=D("500.00"), source=f"payment:{payment.id}", invoice=a)
        with monkeypatch.context() as clock:
            clock.setattr(timezone, "now", lambda: _at(date(2026, 3, 2)))
            invoicing.invoice_void(invoice=b)
    return {"a": a, "b": b, "payment": payment, "customer": customer,
            "subscription": subscription, "setup": setup, "consulting": consulting}


def test_billed_recognized_and_collected_by_month(tenant, books):
    """January to March, net of tax:

    billed      Jan 1,430 - 130 = 1,300.00; Feb 55 - 5 = 50.00; Mar -50.00 (B voided)
    recognized  Jan 100.00 (set-up) + 101.92 = 201.92; Feb 92.05 + 50.00 (workshop) = 142.05;
                Mar -50.00 (the void takes the workshop's revenue back)
    collected   Feb 500.00"""
    with tenant.context():
        report = selectors.billed_recognized_collected(
            organization=tenant.organization, start=JAN_1, end=MAR_31, currency="USD")

    assert {s.key: s.amounts for s in report.series} == {
        "billed": (D("1300.00"), D("50.00"), D("-50.00")),
        "recognized": (D("201.92"), D("142.05"), D("-50.00")),
        "collected": (D(0), D("500.00"), D(0)),
    }
    with tenant.context():  # the same revenue, by product
        by_product = selectors.revenue_by_month(organization=tenant.organization, start=JAN_1,
                                                end=MAR_31, currency="USD")
    assert [(s.label, s.amounts) for s in by_product.series] == [
        ("Platform", (D("101.92"), D("92.05"), D(0))),  # 193.97
        ("Set-up", (D("100.00"), D(0), D(0))),
        ("Consulting", (D(0), D("50.00"), D("-50.00"))),  # 0, shown: it moved
    ]


def test_the_journal_filters_and_drills_down_to_each_document(tenant, books):
    """Invoice A's lines: its finalization (AR 1,430, deferred 1,200, revenue 100, tax 130),
    two recognitions (Jan 31, Feb 28: deferred and revenue each) and the payment (cash 500,
    AR 500): 4 + 4 + 2 = 10 lines. Its revenue lines in February: the recognition of 92.05."""
    a, payment = books["a"], books["payment"]
    with tenant.context():
        organization = tenant.organization
        of_a = selectors.journal_lines(organization=organization, invoice=a.id)
        assert of_a.count() == 10
        revenue = accounts_ensure(organization=organization)[Key.REVENUE]
        [line] = selectors.journal_lines(organization=organization, invoice=a.id,
                                         account=revenue, start=date(2026, 2, 1),
                                         end=date(2026, 2, 28))
        assert (line.credit, line.entry.source_type, line.entry.effective_date) == (
            D("92.05"), "revenue.recognized", date(2026, 2, 28))
        assert line.product_id == books["subscription"].id
        cash_account = accounts_ensure(organization=organization)[Key.CASH]
        [cash] = selectors.journal_lines(organization=organization, payment=payment.id,
                                         account=cash_account, source_type="payment.applied")
        links = selectors.drill_downs(organization=organization, lines=[line, cash])
        assert selectors.source_types(organization=organization) == [
            "invoice.finalized", "invoice.voided", "payment.applied", "revenue.recognized"]

    assert [(link.kind, link.label, link.url) for link in links[line.id]] == [
        ("invoice", a.number, f"/invoices/{a.id}/"),
        ("customer", "Acme", f"/customers/{a.customer_id}/"),
    ]
    assert [(link.kind, link.label, link.url) for link in links[cash.id]] == [
        ("invoice", a.number, f"/invoices/{a.id}/"),
        ("payment", "Payment (bank transfer, TR-7)", f"/payments/{payment.id}/"),
        ("customer", "Acme", f"/customers/{a.customer_id}/"),
    ]


def test_the_export_has_each_accounts_gl_code_and_balances_per_entry(tenant, books):
    """Revenue is mapped to GL code 4000-SUB; the other accounts export their own code. The
    January entries: A's finalization (4 lines) and the Jan 31 recognition (2 lines)."""
    organization = tenant.organization
    with tenant.context():
        revenue = accounts_ensure(organization=organization)[Key.REVENUE]
        account_update(account=revenue, gl_code="4000-SUB")
        rows = selectors.journal_export(organization=organization, start=JAN_1,
                                        end=date(2026, 1, 31))
        entries = list(JournalEntry.objects.for_organization(organization)
                       .filter(effective_date__lte=date(2026, 1, 31))
                       .order_by("effective_date"))

    assert [(r.source_type, r.account_code, r.gl_code, r.debit, r.credit) for r in rows] == [
        ("invoice.finalized", "1100", "1100", D("1430.00"), D(0)),
        ("invoice.finalized", "2100", "2100", D(0), D("1200.00")),
        ("invoice.finalized", "4000", "4000-SUB", D(0), D("100.00")),
        ("invoice.finalized", "2200", "2200", D(0), D("130.00")),
        ("revenue.recognized", "2100", "2100", D("101.92"), D(0)),
        ("revenue.recognized", "4000", "4000-SUB", D(0), D("101.92")),
    ]
    assert [r.entry_id for r in rows] == [entries[0].id] * 4 + [entries[1].id] * 2
    assert {r.effective_date for r in rows} == {date(2026, 1, 5), date(2026, 1, 31)}
    assert rows[0].invoice_id == books["a"].id and rows[0].customer_id == books["customer"].id
    assert sum(r.debit for r in rows) == sum(r.credit for r in rows) == D("1531.92")


def test_the_waterfall_of_real_billing_events(tenant, books):
    """Only invoice A's subscription is deferred (B's workshop was point in time): on Feb 28,
    1,200.00 - 193.97 = 1,006.03 still deferred; March 1,200 x 90 / 365 = 295.89 - 193.97 =
    101.92; later 1,006.03 - 101.92 = 904.11."""
    with tenant.context():
        waterfall = selectors.deferred_waterfall(organization=tenant.organization,
                                                 on=date(2026, 2, 28), currency="USD",
                                                 months=1)
        assert RevenueSchedule.objects.for_organization(tenant.organization).count() == 1
    assert (waterfall.amounts, waterfall.later, waterfall.as_used) == (
        (D("101.92"),), D("904.11"), D(0))
    assert waterfall.total == waterfall.ledger_balance == D("1006.03")
