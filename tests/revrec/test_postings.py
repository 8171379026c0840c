"""What billing events post to the ledger, worked out by hand: invoices finalized and voided,
payments applied. Every test ends with the trial balance: zero per currency."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from invoicing import services as invoicing
from payments.models import Payment
from revrec.models import Account, JournalEntry, JournalLine
from revrec.selectors import balances
from tests.support.factories import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    ProductFactory,
    TaxRateFactory,
)
from tests.support.ledger import trial_balance_is_zero
from tests.support.scenario import flat

pytestmark = pytest.mark.django_db

Key = Account.SystemKey


def _entries(tenant):
    """``{source_type: [(system key, debit, credit), ...]}`` of every entry, lines in the
    order posted."""
    found = defaultdict(list)
    with tenant.context():
        lines = (JournalLine.objects.for_organization(tenant.organization)
                 .select_related("entry", "account").order_by("entry__posted_at", "position"))
        for line in lines:
            found[line.entry.source_type].append(
                (line.account.system_key, line.debit, line.credit))
    return dict(found)


def _balances(tenant):
    with tenant.context():
        return {key: value for key, value in balances(organization=tenant.organization).items()
                if value}


D = Decimal


# --- The worked example, through the API ------------------------------------------------------


def test_a_yearly_flat_fee_invoiced_then_paid_offline(scenario, tenant, as_at_commit):
    """$1,200 a year, billed in advance on Jan 1 2026, revenue recognized ratably (the
    product's rule): nothing is earned when it is invoiced.

    Finalized:  Dr accounts receivable 1,200.00 / Cr deferred revenue 1,200.00 (no tax: the
                organization has no tax rate)
    Paid by bank transfer on Jan 20:  Dr cash 1,200.00 / Cr accounts receivable 1,200.00
    Afterwards: AR 1,200 - 1,200 = 0; cash 1,200 (a debit balance); deferred revenue 1,200
    (a credit balance, -1,200 as debit - credit), waiting for the recognition run."""
    scenario.customer()
    scenario.product("PLATFORM")  # ratable
    contract = scenario.contract(cadence="annual", items=[flat("PLATFORM", "1200.00")])
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    if invoice["status"] == "draft":
        invoice = scenario.finalize(invoice["id"])
    assert (invoice["total"], invoice["tax_total"]) == ("1200.00", "0.00")

    assert _entries(tenant) == {"invoice.finalized": [
        (Key.ACCOUNTS_RECEIVABLE, D("1200.00"), D("0")),
        (Key.DEFERRED_REVENUE, D("0"), D("1200.00")),
    ]}
    with tenant.context():
        entry = JournalEntry.objects.for_organization(tenant.organization).get()
        assert (entry.source_id, entry.currency) == (invoice["id"], "USD")
        assert entry.effective_date.isoformat() == invoice["issue_date"]
        drill_down = JournalLine.objects.for_organization(tenant.organization).filter(
            entry=entry).values_list("invoice_id", flat=True)
        assert {str(i) for i in drill_down} == {invoice["id"]}

    scenario.post(f"invoices/{invoice['id']}/payments", {
        "method": "bank_transfer", "amount": "1200.00", "reference": "TR-1",
        "received_on": "2026-01-20"})

    entries = _entries(tenant)
    assert entries["payment.applied"] == [
        (Key.CASH, D("1200.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("1200.00")),
    ]
    with tenant.context():
        payment = JournalEntry.objects.for_organization(tenant.organization).get(
            source_type="payment.applied")
        assert payment.effective_date == date(2026, 1, 20)
    as_at_commit()
    assert _balances(tenant) == {(Key.CASH, "USD"): D("1200.00"),
                                 (Key.DEFERRED_REVENUE, "USD"): D("-1200.00")}
    trial_balance_is_zero(tenant)


# --- Invoices: revenue rules, tax, void --------------------------------------------------------


def _draft(tenant, *, country="US", currency="USD", lines):
    """A draft one-off invoice of a customer in ``country`` with ``lines``: (amount, revenue
    rule or None for a line without a product)."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, country=country, currency=currency)
    invoice = InvoiceFactory(customer=customer, manual=True)
    for position, (amount, rule) in enumerate(lines):
        product = ProductFactory(organization=organization, revenue_rule=rule) if rule else None
        InvoiceLineFactory(invoice=invoice, position=position, amount=D(amount),
                           product=product, description=f"Line {position}")
    return invoice


def _finalize(tenant, invoice):
    with tenant.context():
        return invoicing.invoice_finalize(invoice=invoice, recompute=False)


def test_an_invoice_posts_each_line_by_its_revenue_rule_with_its_tax(tenant, as_at_commit):
    """A 10 % US sales tax on 1,000 subscription (ratable) + 200 set-up (point in time) + 300
    usage (as used) - 150 contract discount (no product: the lines' rules differ, so point
    in time). Tax on the base: (1,000 + 200 + 300 - 150) x 10 % = 1,350 x 10 % = 135.00;
    total 1,485.00.
    Dr AR 1,485 + Dr revenue 150 (the discount) = 1,635 = Cr deferred 1,000 + revenue 200 +
    revenue 300 + tax 135."""
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _draft(tenant, lines=[("1000.00", "ratable"), ("200.00", "point_in_time"),
                                    ("300.00", "as_used"), ("-150.00", None)])
    invoice = _finalize(tenant, invoice)
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        D("1350.00"), D("135.00"), D("1485.00"))

    assert _entries(tenant) == {"invoice.finalized": [
        (Key.ACCOUNTS_RECEIVABLE, D("1485.00"), D("0")),
        (Key.DEFERRED_REVENUE, D("0"), D("1000.00")),
        (Key.REVENUE, D("0"), D("200.00")),
        (Key.REVENUE, D("0"), D("300.00")),
        (Key.REVENUE, D("150.00"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("0"), D("135.00")),
    ]}
    as_at_commit()
    # revenue: -200 - 300 + 150 = -350 (a credit balance)
    assert _balances(tenant) == {
        (Key.ACCOUNTS_RECEIVABLE, "USD"): D("1485.00"),
        (Key.DEFERRED_REVENUE, "USD"): D("-1000.00"), (Key.REVENUE, "USD"): D("-350.00"),
        (Key.SALES_TAX_PAYABLE, "USD"): D("-135.00")}
    trial_balance_is_zero(tenant)


def test_a_line_without_a_product_follows_the_rule_its_invoice_shares(tenant):
    """1,000 ratable - 100 discount: the discount reduces what is deferred, 900."""
    invoice = _finalize(tenant, _draft(tenant, lines=[("1000.00", "ratable"),
                                                      ("-100.00", None)]))
    assert invoice.total == D("900.00")
    assert _entries(tenant)["invoice.finalized"] == [
        (Key.ACCOUNTS_RECEIVABLE, D("900.00"), D("0")),
        (Key.DEFERRED_REVENUE, D("0"), D("1000.00")),
        (Key.DEFERRED_REVENUE, D("100.00"), D("0")),
    ]


def test_tax_inclusive_prices_post_their_net_and_the_invoices_tax(tenant, as_at_commit):
    """French VAT of 20 % included in two lines of 10.00 EUR: the tax is computed once on the
    base, 20.00 - 20.00 / 1.2 = 3.333... -> 3.33; each line's share is 10.00 - 10.00 / 1.2 =
    1.666... -> 1.67 (their sum, 3.34, misses the invoice's by a cent). Revenue is the total
    less the invoice's tax: 20.00 - 3.33 = 16.67 = 8.33 + 8.33 + the missing cent, given to
    the largest (first) line."""
    TaxRateFactory(organization=tenant.organization, name="TVA", country="FR", rate=D("20"),
                   inclusive=True)
    invoice = _draft(tenant, country="FR", currency="EUR",
                     lines=[("10.00", "point_in_time"), ("10.00", "point_in_time")])
    invoice = _finalize(tenant, invoice)
    assert (invoice.total, invoice.tax_total) == (D("20.00"), D("3.33"))
    assert _entries(tenant)["invoice.finalized"] == [
        (Key.ACCOUNTS_RECEIVABLE, D("20.00"), D("0")),
        (Key.REVENUE, D("0"), D("8.34")),
        (Key.REVENUE, D("0"), D("8.33")),
        (Key.SALES_TAX_PAYABLE, D("0"), D("3.33")),
    ]
    as_at_commit()
    trial_balance_is_zero(tenant)


def test_voiding_an_invoice_reverses_its_finalization_exactly(tenant, as_at_commit):
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _finalize(tenant, _draft(tenant, lines=[("1000.00", "ratable"),
                                                      ("200.00", "point_in_time")]))
    with tenant.context():
        invoicing.invoice_void(invoice=invoice)
        invoicing.invoice_void(invoice=invoice)  # again: nothing more

    entries = _entries(tenant)
    # 1,200 + 10 % = 1,320.00
    assert entries["invoice.voided"] == [
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("1320.00")),
        (Key.DEFERRED_REVENUE, D("1000.00"), D("0")),
        (Key.REVENUE, D("200.00"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("120.00"), D("0")),
    ]
    with tenant.context():
        finalized, voided = JournalEntry.objects.for_organization(
            tenant.organization).order_by("posted_at")
        assert voided.reverses_id == finalized.id
        assert voided.source_id == str(invoice.id)
    as_at_commit()
    assert _balances(tenant) == {}  # every account back to zero
    trial_balance_is_zero(tenant)


def test_a_draft_voided_or_an_invoice_of_zero_posts_nothing(tenant):
    draft = _draft(tenant, lines=[("100.00", "ratable")])
    nothing = _draft(tenant, lines=[("0.00", "ratable")])
    with tenant.context():
        invoicing.invoice_void(invoice=draft)
    _finalize(tenant, nothing)
    assert _entries(tenant) == {}


# --- Payments -----------------------------------------------------------------------------------


def _paid(tenant, invoice, *, method, amount):
    """A payment of ``amount`` that succeeded, handed to invoicing as payments does."""
    with tenant.context():
        payment = Payment.objects.create(
            organization=tenant.organization, customer=invoice.customer, invoice=invoice,
            amount=D(amount), currency=invoice.currency, method=method, status="succeeded",
            initiated_by="auto", idempotency_key=f"test:{method}:{amount}",
            received_on=date(2026, 1, 9))
        invoicing.payment_apply(
            organization=tenant.organization, customer=invoice.customer,
            currency=invoice.currency, amount=D(amount), source=f"payment:{payment.id}",
            invoice=invoice, keep_excess_as_credit=True)
    return payment


def test_a_card_payment_goes_to_the_gateway_clearing_account_and_its_excess_to_credit(
        tenant, as_at_commit):
    """A card payment of 120.00 on an invoice of 100.00 (point in time, no tax): the gateway
    holds the money until its payout -- Dr gateway receivable 120.00 / Cr AR 100.00, Cr
    customer credit 20.00 (kept as the customer's credit)."""
    invoice = _finalize(tenant, _draft(tenant, lines=[("100.00", "point_in_time")]))
    payment = _paid(tenant, invoice, method="card", amount="120.00")

    assert _entries(tenant)["payment.applied"] == [
        (Key.GATEWAY_RECEIVABLE, D("120.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("100.00")),
        (Key.CUSTOMER_CREDIT, D("0"), D("20.00")),
    ]
    with tenant.context():
        refs = set(JournalLine.objects.for_organization(tenant.organization).filter(
            entry__source_type="payment.applied").values_list(
                "payment_id", "invoice_id", "customer_id"))
    assert refs == {(payment.id, invoice.id, invoice.customer_id)}
    as_at_commit()
    assert _balances(tenant) == {
        (Key.GATEWAY_RECEIVABLE, "USD"): D("120.00"), (Key.REVENUE, "USD"): D("-100.00"),
        (Key.CUSTOMER_CREDIT, "USD"): D("-20.00")}
    trial_balance_is_zero(tenant)


def test_a_partial_offline_payment_leaves_the_rest_receivable(tenant, as_at_commit):
    """40.00 by cheque of 100.00 due: Dr cash 40.00 / Cr AR 40.00; AR 100 - 40 = 60 left."""
    invoice = _finalize(tenant, _draft(tenant, lines=[("100.00", "point_in_time")]))
    _paid(tenant, invoice, method="cheque", amount="40.00")
    assert _entries(tenant)["payment.applied"] == [
        (Key.CASH, D("40.00"), D("0")), (Key.ACCOUNTS_RECEIVABLE, D("0"), D("40.00"))]
    as_at_commit()
    assert _balances(tenant)[(Key.ACCOUNTS_RECEIVABLE, "USD")] == D("60.00")
    trial_balance_is_zero(tenant)


def test_a_prepaid_purchase_is_all_customer_credit(tenant, as_at_commit):
    """75.00 received by bank transfer with no invoice: a liability to the customer until
    spent -- Dr cash 75.00 / Cr customer credit 75.00."""
    customer = CustomerFactory(organization=tenant.organization)
    with tenant.context():
        payment = Payment.objects.create(
            organization=tenant.organization, customer=customer, amount=D("75.00"),
            currency="USD", method="bank_transfer", status="succeeded", initiated_by="auto",
            idempotency_key="test:prepaid")
        invoicing.payment_apply(organization=tenant.organization, customer=customer,
                                currency="USD", amount=D("75.00"),
                                source=f"payment:{payment.id}")
    assert _entries(tenant) == {"payment.applied": [
        (Key.CASH, D("75.00"), D("0")), (Key.CUSTOMER_CREDIT, D("0"), D("75.00"))]}
    with tenant.context():
        line = JournalLine.objects.for_organization(tenant.organization).filter(
            account__system_key=Key.CUSTOMER_CREDIT).get()
    assert (line.customer_id, line.payment_id, line.invoice_id) == (customer.id, payment.id, None)
    as_at_commit()
    trial_balance_is_zero(tenant)
