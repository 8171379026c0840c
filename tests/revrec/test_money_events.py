"""What the money events after an invoice post to the ledger, worked out by hand: credit notes
(revenue still deferred, to the credit balance, refunded), refunds of an overpayment's excess,
credit granted by a person then applied and expired, a write-off and a recovery, a void of an
invoice paid partly by credit, an invoice of credits. Each situation is built through the
real invoicing and payments services; every test ends with the trial balance at zero per
currency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from invoicing import services as invoicing
from invoicing.models import CreditGrant, Invoice, InvoiceLine
from payments import services as payments
from payments.models import Payment
from payments.refunds import refund_create
from revrec import recognition
from revrec.models import Account, JournalEntry, JournalLine, RevenueSchedule
from tests.support.factories import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    ProductFactory,
    TaxRateFactory,
)
from tests.support.ledger import account_balances, recognize_through, trial_balance_is_zero

pytestmark = pytest.mark.django_db

Key = Account.SystemKey
D = Decimal
YEAR_2026 = {"period_start": date(2026, 1, 1), "period_end": date(2027, 1, 1)}


# --- Helpers ------------------------------------------------------------------------------------


def _lines(tenant, source_type):
    """[(system key, debit, credit)] of every entry of ``source_type``, in the order posted."""
    with tenant.context():
        rows = (JournalLine.objects.for_organization(tenant.organization)
                .filter(entry__source_type=source_type).select_related("entry", "account")
                .order_by("entry__effective_date", "entry__posted_at", "position"))
        return [(line.account.system_key, line.debit, line.credit) for line in rows]


def _source_types(tenant):
    """The source types of the entries, in the order posted."""
    with tenant.context():
        return list(JournalEntry.objects.for_organization(tenant.organization)
                    .order_by("posted_at").values_list("source_type", flat=True))


def _customer(tenant, **fields):
    return CustomerFactory(organization=tenant.organization, country="US", currency="USD",
                           **fields)


def _invoice(tenant, customer, *lines):
    """A draft one-off invoice of ``customer``; ``lines``: (amount, revenue rule or None,
    extra fields of the line)."""
    invoice = InvoiceFactory(customer=customer, manual=True)
    for position, (amount, rule, extra) in enumerate(lines):
        product = (ProductFactory(organization=tenant.organization, revenue_rule=rule)
                   if rule else None)
        InvoiceLineFactory(invoice=invoice, position=position, amount=D(amount),
                           product=product, **{"description": f"Line {position}", **extra})
    return invoice


def _finalize(tenant, invoice, on: date | None = None):
    """Finalized at noon UTC of ``on`` (its issue date), or now."""
    now = datetime(on.year, on.month, on.day, 12, tzinfo=UTC) if on else None
    with tenant.context():
        return invoicing.invoice_finalize(invoice=invoice, recompute=False, now=now)


def _line_of(tenant, invoice, position=0):
    with tenant.context():
        return InvoiceLine.objects.for_organization(tenant.organization).get(
            invoice=invoice, position=position)


def _reload(tenant, obj):
    with tenant.context():
        obj.refresh_from_db()
    return obj


def _revenue(tenant):
    """Revenue earned: credits less debits on the revenue account."""
    return -account_balances(tenant).get(Key.REVENUE, D(0))


# --- 1. A credit note while revenue is still deferred --------------------------------------------


def test_a_partial_credit_note_splits_between_revenue_recognized_and_still_deferred(
        tenant, as_at_commit):
    """1,200.00 for 2026 (ratable, 365 days) + 10 % US sales tax 120.00 = 1,320.00, issued
    Jan 1.  Finalized: Dr AR 1,320.00 / Cr deferred revenue 1,200.00, Cr tax 120.00.

    Recognized through Mar 31 (31 + 28 + 31 = 90 days): 1,200 x 90/365 = 295.890... -> 295.89.

    Credit note of 300.00 on the line (reduce_due): its tax 120 x 300/1,200 = 30.00, total
    330.00. The schedule has recognized 295.89 of 1,200, so of the 300 net:
      off revenue   300 x 295.89 / 1,200 = 73.9725 -> 73.97
      off deferred  300 - 73.97 = 226.03
    Dr deferred 226.03, Dr revenue 73.97, Dr tax 30.00 / Cr AR 330.00.
    The schedule becomes 1,200 - 300 = 900.00, recognized 295.89 - 73.97 = 221.92 (= 900 x
    90/365 = 221.917... -> 221.92: on the same curve).
    The rest of the year recognizes 900.00 - 221.92 = 678.08; April alone 900 x 120/365 =
    295.890... -> 295.89, less 221.92 = 73.97. Revenue for the year: 295.89 - 73.97 +
    678.08 = 900.00 = 1,200 - 300, to the cent."""
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _invoice(tenant, _customer(tenant), ("1200.00", "ratable", YEAR_2026))
    invoice = _finalize(tenant, invoice, date(2026, 1, 1))
    assert (invoice.total, invoice.tax_total) == (D("1320.00"), D("120.00"))
    assert _lines(tenant, "invoice.finalized") == [
        (Key.ACCOUNTS_RECEIVABLE, D("1320.00"), D("0")),
        (Key.DEFERRED_REVENUE, D("0"), D("1200.00")),
        (Key.SALES_TAX_PAYABLE, D("0"), D("120.00")),
    ]
    recognize_through(tenant, date(2026, 3, 31))
    assert _revenue(tenant) == D("295.89")

    line = _line_of(tenant, invoice)
    with tenant.context():
        note = invoicing.credit_note_create(invoice=invoice, reason="Fewer seats",
                                            lines=[(line, D("300.00"))],
                                            destination="reduce_due")
    assert (note.subtotal, note.tax_total, note.total, note.amount_credited,
            note.to_customer_credit) == (D("300.00"), D("30.00"), D("330.00"), D("330.00"),
                                         D("0"))
    assert _lines(tenant, "credit_note.issued") == [
        (Key.DEFERRED_REVENUE, D("226.03"), D("0")),
        (Key.REVENUE, D("73.97"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("30.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("330.00")),
    ]
    with tenant.context():
        schedule = RevenueSchedule.objects.for_organization(tenant.organization).get()
    assert (schedule.amount, schedule.recognized, schedule.billed) == (
        D("900.00"), D("221.92"), D("1200.00"))
    assert _reload(tenant, invoice).amount_due == D("990.00")  # 1,320 - 330

    recognize_through(tenant, date(2026, 4, 30))
    april = _lines(tenant, recognition.RECOGNIZED)[-2:]
    assert april == [(Key.DEFERRED_REVENUE, D("73.97"), D("0")),
                     (Key.REVENUE, D("0"), D("73.97"))]
    recognize_through(tenant, date(2026, 12, 31))
    recognized_after_the_note = sum(
        (credit for key, _, credit in _lines(tenant, recognition.RECOGNIZED)
         if key == Key.REVENUE), D(0)) - D("295.89")
    assert recognized_after_the_note == D("678.08")
    assert _revenue(tenant) == D("900.00")
    # nothing left deferred; AR what is due; tax 120 - 30
    assert account_balances(tenant) == {Key.ACCOUNTS_RECEIVABLE: D("990.00"),
                                 Key.SALES_TAX_PAYABLE: D("-90.00"),
                                 Key.REVENUE: D("-900.00")}
    trial_balance_is_zero(tenant, as_at_commit)


# --- 2. A credit note to the credit balance -------------------------------------------------------


def test_a_credit_note_on_a_point_in_time_line_to_customer_credit(tenant, as_at_commit):
    """200.00 set-up fee (point in time) + 10 % tax = 220.00: Dr AR 220 / Cr revenue 200, Cr
    tax 20. A credit note of 50.00 to the credit balance: tax 20 x 50/200 = 5.00, total
    55.00 -- Dr revenue 50.00, Dr tax 5.00 / Cr customer credit 55.00; the amount due stays
    220.00 (nothing off AR). The lot it makes posts nothing more (the note posted it)."""
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("200.00", "point_in_time", {})), date(2026, 1, 5))
    line = _line_of(tenant, invoice)
    with tenant.context():
        note = invoicing.credit_note_create(invoice=invoice, reason="Goodwill",
                                            lines=[(line, D("50.00"))],
                                            destination="customer_credit")
        grant = CreditGrant.objects.for_organization(tenant.organization).get()
    assert (note.total, note.amount_credited, note.to_customer_credit) == (
        D("55.00"), D("0"), D("55.00"))
    assert (grant.kind, grant.remaining) == (CreditGrant.Kind.CREDIT_NOTE, D("55.00"))
    assert _lines(tenant, "credit_note.issued") == [
        (Key.REVENUE, D("50.00"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("5.00"), D("0")),
        (Key.CUSTOMER_CREDIT, D("0"), D("55.00")),
    ]
    assert _source_types(tenant) == ["invoice.finalized", "credit_note.issued"]
    assert _reload(tenant, invoice).amount_due == D("220.00")
    # revenue 200 - 50; tax 20 - 5; the customer is owed 55
    assert account_balances(tenant) == {Key.ACCOUNTS_RECEIVABLE: D("220.00"),
                                 Key.REVENUE: D("-150.00"), Key.SALES_TAX_PAYABLE: D("-15.00"),
                                 Key.CUSTOMER_CREDIT: D("-55.00")}
    trial_balance_is_zero(tenant, as_at_commit)


def test_a_credit_note_beyond_what_is_due_goes_to_the_credit_balance(tenant, as_at_commit):
    """100.00 (point in time) + 10 % tax = 110.00, 80.00 paid: 30.00 due. A credit note of
    50.00 on the line (tax 5.00, total 55.00), reduce_due: 30.00 comes off the amount due,
    the other 55 - 30 = 25.00 goes to the customer's credit --
    Dr revenue 50.00, Dr tax 5.00 / Cr AR 30.00, Cr customer credit 25.00.
    AR 110 - 80 - 30 = 0 (the invoice is paid); cash 80; revenue 100 - 50 = 50; tax 10 - 5."""
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        payments.payment_record_offline(
            invoice=invoice, amount=D("80.00"), method="bank_transfer", reference="TR-80",
            received_on=date(2026, 1, 20), actor="ana@acme.test")
        note = invoicing.credit_note_create(invoice=invoice, reason="Partial refund",
                                            lines=[(_line_of(tenant, invoice), D("50.00"))],
                                            destination="reduce_due")
    assert (note.total, note.amount_credited, note.to_customer_credit) == (
        D("55.00"), D("30.00"), D("25.00"))
    assert _lines(tenant, "credit_note.issued") == [
        (Key.REVENUE, D("50.00"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("5.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("30.00")),
        (Key.CUSTOMER_CREDIT, D("0"), D("25.00")),
    ]
    invoice = _reload(tenant, invoice)
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.PAID, D("0"))
    assert account_balances(tenant) == {Key.CASH: D("80.00"), Key.REVENUE: D("-50.00"),
                                 Key.SALES_TAX_PAYABLE: D("-5.00"),
                                 Key.CUSTOMER_CREDIT: D("-25.00")}
    trial_balance_is_zero(tenant, as_at_commit)


# --- 3. A credit note refunded --------------------------------------------------------------------


def test_a_credit_note_refunded_on_a_paid_invoice_takes_cash_back(tenant, as_at_commit):
    """100.00 (point in time, no tax), paid by bank transfer on Jan 20: Dr cash 100 / Cr AR
    100. A credit note of 40.00 with its money refunded to that payment:
      credit_note.issued   Dr revenue 40.00 / Cr AR 40.00 (what it credited)
      payment.refunded     Dr AR 40.00 / Cr cash 40.00 (the invoice's payment gives it back)
    AR: 100 - 100 - 40 + 40 = 0; cash 100 - 40 = 60.00; revenue 100 - 40 = 60.00."""
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        payment = payments.payment_record_offline(
            invoice=invoice, amount=D("100.00"), method="bank_transfer", reference="TR-1",
            received_on=date(2026, 1, 20), actor="ana@acme.test")
    invoice = _reload(tenant, invoice)
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.PAID, D("0"))
    line = _line_of(tenant, invoice)
    with tenant.context():
        note = invoicing.credit_note_create(invoice=invoice, reason="Refund part",
                                            lines=[(line, D("40.00"))], destination="refund")
    assert (note.total, note.amount_credited, note.to_refund) == (
        D("40.00"), D("40.00"), D("40.00"))
    assert _lines(tenant, "payment.applied") == [
        (Key.CASH, D("100.00"), D("0")), (Key.ACCOUNTS_RECEIVABLE, D("0"), D("100.00"))]
    assert _lines(tenant, "credit_note.issued") == [
        (Key.REVENUE, D("40.00"), D("0")), (Key.ACCOUNTS_RECEIVABLE, D("0"), D("40.00"))]
    assert _lines(tenant, "payment.refunded") == [
        (Key.ACCOUNTS_RECEIVABLE, D("40.00"), D("0")), (Key.CASH, D("0"), D("40.00"))]
    with tenant.context():
        refund_line = JournalLine.objects.for_organization(tenant.organization).get(
            entry__source_type="payment.refunded", account__system_key=Key.CASH)
    assert refund_line.payment_id == payment.id
    payment = _reload(tenant, payment)
    assert (payment.refunded_amount, payment.status) == (D("40.00"),
                                                        Payment.Status.PARTIALLY_REFUNDED)
    invoice = _reload(tenant, invoice)
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.PAID, D("0"))
    assert account_balances(tenant) == {Key.CASH: D("60.00"), Key.REVENUE: D("-60.00")}
    trial_balance_is_zero(tenant, as_at_commit)


# --- 4. A refund of an overpayment's excess out of credit ---------------------------------------


def test_the_excess_of_an_offline_overpayment_refunded_out_of_credit(tenant, as_at_commit):
    """100.00 due; 130.00 received by bank transfer, the excess kept as credit:
      payment.applied   Dr cash 130.00 / Cr AR 100.00, Cr customer credit 30.00
    Then 30.00 refunded from that credit (the invoice stays paid):
      payment.refunded  Dr customer credit 30.00 / Cr cash 30.00
    Cash 130 - 30 = 100.00; customer credit 0; AR 0."""
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        payment = payments.payment_record_offline(
            invoice=invoice, amount=D("130.00"), method="bank_transfer", reference="TR-9",
            received_on=date(2026, 1, 20), actor="ana@acme.test", keep_excess_as_credit=True)
        refund = refund_create(payment=payment, amount=D("30.00"), reason="Overpaid",
                               actor="ana@acme.test", take_from="credit")
    assert (refund.from_credit, refund.from_invoice) == (D("30.00"), D("0"))
    assert _lines(tenant, "payment.applied") == [
        (Key.CASH, D("130.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("100.00")),
        (Key.CUSTOMER_CREDIT, D("0"), D("30.00")),
    ]
    assert _lines(tenant, "payment.refunded") == [
        (Key.CUSTOMER_CREDIT, D("30.00"), D("0")), (Key.CASH, D("0"), D("30.00"))]
    assert _reload(tenant, invoice).status == Invoice.Status.PAID
    assert account_balances(tenant) == {Key.CASH: D("100.00"), Key.REVENUE: D("-100.00")}
    trial_balance_is_zero(tenant, as_at_commit)


def test_a_refund_taken_from_credit_and_from_the_invoice_posts_both_parts(
        tenant, as_at_commit):
    """100.00 due; 130.00 received, the excess kept as credit. A refund of 50.00 with no
    source named takes the unapplied credit first (30.00), then the invoice (20.00), under one
    refund -- two movements, two entries:
      Dr customer credit 30.00 / Cr cash 30.00
      Dr AR 20.00 / Cr cash 20.00 (the invoice owes 20.00 again)
    Cash 130 - 50 = 80.00; AR 20.00 = the invoice's amount due; customer credit 0."""
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        payment = payments.payment_record_offline(
            invoice=invoice, amount=D("130.00"), method="bank_transfer", reference="TR-10",
            received_on=date(2026, 1, 20), actor="ana@acme.test", keep_excess_as_credit=True)
        refund = refund_create(payment=payment, amount=D("50.00"), reason="Overpaid",
                               actor="ana@acme.test")
    assert (refund.from_credit, refund.from_invoice) == (D("30.00"), D("20.00"))
    assert sorted(_lines(tenant, "payment.refunded")) == sorted([
        (Key.CUSTOMER_CREDIT, D("30.00"), D("0")), (Key.CASH, D("0"), D("30.00")),
        (Key.ACCOUNTS_RECEIVABLE, D("20.00"), D("0")), (Key.CASH, D("0"), D("20.00"))])
    assert _reload(tenant, invoice).amount_due == D("20.00")
    assert account_balances(tenant) == {Key.CASH: D("80.00"), Key.ACCOUNTS_RECEIVABLE: D("20.00"),
                                 Key.REVENUE: D("-100.00")}
    trial_balance_is_zero(tenant, as_at_commit)


def test_an_invoice_with_a_credit_note_is_not_voided(tenant, as_at_commit):
    """A credit note already took part of the invoice back (numbered, its money moved):
    voiding the invoice as well would take that part back twice. Refused with a reason; the
    books stay as the note left them."""
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("200.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        invoicing.credit_note_create(invoice=invoice, reason="Outage",
                                     lines=[(_line_of(tenant, invoice), D("50.00"))])
        before = account_balances(tenant)
        with pytest.raises(ValidationError) as refused:
            invoicing.invoice_void(invoice=invoice)
    assert refused.value.error_dict["status"][0].code == "has_credit_notes"
    assert account_balances(tenant) == before == {Key.ACCOUNTS_RECEIVABLE: D("150.00"),
                                           Key.REVENUE: D("-150.00")}
    trial_balance_is_zero(tenant, as_at_commit)


def test_an_unpaid_invoice_credited_to_the_customer_balance_is_not_voided(tenant, as_at_commit):
    """A credit note of 50.00 sent to the customer's balance leaves the invoice's 200.00 due
    (nothing taken off it) and gives the customer 50.00 of credit. Voiding the invoice
    afterwards would cancel all 200.00 and leave the 50.00 credit standing: the customer
    would be credited twice. Refused; AR 200.00, customer credit 50.00, revenue
    -(200 - 50) = -150.00 stay as the note left them."""
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("200.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        note = invoicing.credit_note_create(invoice=invoice, reason="Goodwill",
                                            lines=[(_line_of(tenant, invoice), D("50.00"))],
                                            destination="customer_credit")
        assert (note.amount_credited, note.to_customer_credit) == (D("0.00"), D("50.00"))
        before = account_balances(tenant)
        with pytest.raises(ValidationError) as refused:
            invoicing.invoice_void(invoice=invoice)
    assert refused.value.error_dict["status"][0].code == "has_credit_notes"
    assert _reload(tenant, invoice).status == Invoice.Status.FINALIZED
    assert account_balances(tenant) == before == {Key.ACCOUNTS_RECEIVABLE: D("200.00"),
                                           Key.CUSTOMER_CREDIT: D("-50.00"),
                                           Key.REVENUE: D("-150.00")}
    trial_balance_is_zero(tenant, as_at_commit)


def test_the_excess_of_a_card_overpayment_refunded_out_of_credit_leaves_the_gateway(
        tenant, as_at_commit):
    """A card payment of 120.00 on 100.00 due: Dr gateway receivable 120.00 / Cr AR 100.00,
    Cr customer credit 20.00. 15.00 of the credit refunded (invoicing's wallet refund of the
    payment's lot): Dr customer credit 15.00 / Cr gateway receivable 15.00 -- the gateway
    pays it back. Gateway receivable 120 - 15 = 105.00; customer credit 20 - 15 = 5.00."""
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        payment = Payment.objects.create(
            organization=tenant.organization, customer=invoice.customer, invoice=invoice,
            amount=D("120.00"), currency="USD", method="card", status="succeeded",
            initiated_by="auto", idempotency_key="test:card:120", reference="pi_120",
            received_on=date(2026, 1, 9))
        invoicing.payment_apply(organization=tenant.organization, customer=invoice.customer,
                                currency="USD", amount=D("120.00"),
                                source=f"payment:{payment.id}", invoice=invoice,
                                keep_excess_as_credit=True)
        invoicing.customer_credit_refund(organization=tenant.organization,
                                         grant_source=f"payment:{payment.id}",
                                         amount=D("15.00"), source="refund:card-1")
    assert _lines(tenant, "payment.applied") == [
        (Key.GATEWAY_RECEIVABLE, D("120.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("100.00")),
        (Key.CUSTOMER_CREDIT, D("0"), D("20.00")),
    ]
    assert _lines(tenant, "payment.refunded") == [
        (Key.CUSTOMER_CREDIT, D("15.00"), D("0")),
        (Key.GATEWAY_RECEIVABLE, D("0"), D("15.00")),
    ]
    assert account_balances(tenant) == {Key.GATEWAY_RECEIVABLE: D("105.00"),
                                 Key.CUSTOMER_CREDIT: D("-5.00"), Key.REVENUE: D("-100.00")}
    trial_balance_is_zero(tenant, as_at_commit)


# --- 5. Credit granted by a person, applied, expired --------------------------------------------


def test_credit_granted_by_a_person_is_applied_at_finalization_and_the_rest_expires(
        tenant, as_at_commit):
    """50.00 granted by a person (a concession), expiring in a month:
      credit.granted   Dr revenue 50.00 / Cr customer credit 50.00
    The next invoice, 30.00 (point in time, no tax), finalized before the expiry:
      invoice.finalized  Dr AR 30.00 / Cr revenue 30.00
      credit.applied     Dr customer credit 30.00 / Cr AR 30.00 (nothing left due: paid)
    At the expiry the 50 - 30 = 20.00 left is breakage:
      credit.expired   Dr customer credit 20.00 / Cr revenue 20.00
    Customer credit -50 + 30 + 20 = 0; AR 30 - 30 = 0; revenue -50 + 30 + 20 = 0 (a debit
    of 50, two credits of 30 and 20)."""
    customer = _customer(tenant)
    expires = timezone.now() + timedelta(days=30)
    with tenant.context():
        invoicing.customer_credit_grant(organization=tenant.organization, customer=customer,
                                        amount=D("50.00"), reason="Outage in March",
                                        expires_at=expires, granted_by="ana@acme.test")
    assert _lines(tenant, "credit.granted") == [
        (Key.REVENUE, D("50.00"), D("0")), (Key.CUSTOMER_CREDIT, D("0"), D("50.00"))]

    invoice = _finalize(tenant, _invoice(tenant, customer, ("30.00", "point_in_time", {})))
    assert (invoice.credit_applied, invoice.amount_due, invoice.status) == (
        D("30.00"), D("0"), Invoice.Status.PAID)
    assert _lines(tenant, "invoice.finalized") == [
        (Key.ACCOUNTS_RECEIVABLE, D("30.00"), D("0")), (Key.REVENUE, D("0"), D("30.00"))]
    assert _lines(tenant, "credit.applied") == [
        (Key.CUSTOMER_CREDIT, D("30.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("30.00"))]

    with tenant.context():
        assert invoicing.credits_expire_due(organization=tenant.organization,
                                            now=timezone.now()) == 0  # not yet
        assert invoicing.credits_expire_due(organization=tenant.organization,
                                            now=expires + timedelta(seconds=1)) == 1
        assert invoicing.credits_expire_due(organization=tenant.organization,
                                            now=expires + timedelta(days=1)) == 0  # once
    assert _lines(tenant, "credit.expired") == [
        (Key.CUSTOMER_CREDIT, D("20.00"), D("0")), (Key.REVENUE, D("0"), D("20.00"))]
    assert account_balances(tenant) == {}
    trial_balance_is_zero(tenant, as_at_commit)


# --- 6. A write-off and a recovery ----------------------------------------------------------------


def test_a_write_off_then_a_late_payment_is_a_recovery_not_ar(tenant, as_at_commit):
    """100.00 (point in time) + 10 % tax = 110.00; 10.00 paid by cheque, so 100.00 due.
    Written off (uncollectible):  Dr bad-debt expense 100.00 / Cr AR 100.00 (the amount due,
    not the total). Then 60.00 arrives by bank transfer: a recovery -- Dr cash 60.00 / Cr
    bad-debt expense 60.00, AR untouched.
    AR 110 - 10 - 100 = 0; bad-debt expense 100 - 60 = 40.00 (what is still due); cash 70."""
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    assert invoice.total == D("110.00")
    with tenant.context():
        payments.payment_record_offline(
            invoice=invoice, amount=D("10.00"), method="cheque", reference="CHQ-1",
            received_on=date(2026, 1, 10), actor="ana@acme.test")
        invoice = invoicing.invoice_mark_uncollectible(invoice=invoice)
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.UNCOLLECTIBLE, D("100.00"))
    assert _lines(tenant, "invoice.uncollectible") == [
        (Key.BAD_DEBT_EXPENSE, D("100.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("100.00"))]

    with tenant.context():
        late = payments.payment_record_offline(
            invoice=invoice, amount=D("60.00"), method="bank_transfer", reference="TR-late",
            received_on=date(2026, 3, 2), actor="ana@acme.test")
    assert _lines(tenant, "payment.applied") == [
        (Key.CASH, D("10.00"), D("0")), (Key.ACCOUNTS_RECEIVABLE, D("0"), D("10.00")),
        (Key.CASH, D("60.00"), D("0")), (Key.BAD_DEBT_EXPENSE, D("0"), D("60.00"))]
    with tenant.context():
        entry = JournalEntry.objects.for_organization(tenant.organization).get(
            source_type="payment.applied", source_id=f"payment:{late.id}")
    assert entry.effective_date == date(2026, 3, 2)
    invoice = _reload(tenant, invoice)
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.UNCOLLECTIBLE, D("40.00"))
    assert account_balances(tenant) == {Key.CASH: D("70.00"), Key.BAD_DEBT_EXPENSE: D("40.00"),
                                 Key.REVENUE: D("-100.00"), Key.SALES_TAX_PAYABLE: D("-10.00")}
    trial_balance_is_zero(tenant, as_at_commit)


def test_a_credit_note_on_a_written_off_invoice_comes_off_bad_debt_expense(
        tenant, as_at_commit):
    """110.00 (100.00 point in time + 10 % tax) written off: Dr bad-debt expense 110.00 / Cr
    AR 110.00. A credit note of 40.00 on it (tax 4.00, total 44.00, off the amount due): the
    receivable is no longer in AR, so -- Dr revenue 40.00, Dr tax 4.00 / Cr bad-debt expense
    44.00. Bad-debt expense 110 - 44 = 66.00, the amount still due; AR 0."""
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    invoice = _finalize(tenant, _invoice(tenant, _customer(tenant),
                                         ("100.00", "point_in_time", {})), date(2026, 1, 5))
    with tenant.context():
        invoice = invoicing.invoice_mark_uncollectible(invoice=invoice)
        note = invoicing.credit_note_create(invoice=invoice, reason="Disputed",
                                            lines=[(_line_of(tenant, invoice), D("40.00"))])
    assert (note.destination, note.total, note.amount_credited) == (
        "reduce_due", D("44.00"), D("44.00"))
    assert _lines(tenant, "invoice.uncollectible") == [
        (Key.BAD_DEBT_EXPENSE, D("110.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("110.00"))]
    assert _lines(tenant, "credit_note.issued") == [
        (Key.REVENUE, D("40.00"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("4.00"), D("0")),
        (Key.BAD_DEBT_EXPENSE, D("0"), D("44.00")),
    ]
    invoice = _reload(tenant, invoice)
    assert (invoice.status, invoice.amount_due) == (Invoice.Status.UNCOLLECTIBLE, D("66.00"))
    assert account_balances(tenant) == {Key.BAD_DEBT_EXPENSE: D("66.00"), Key.REVENUE: D("-60.00"),
                                 Key.SALES_TAX_PAYABLE: D("-6.00")}
    trial_balance_is_zero(tenant, as_at_commit)


# --- 7. A void of an invoice paid partly by credit ----------------------------------------------


def test_voiding_an_invoice_paid_partly_by_credit_puts_everything_back(tenant, as_at_commit):
    """50.00 of credit granted (Dr revenue 50 / Cr customer credit 50). Then 1,200.00 for 2026
    (ratable) + 10 % tax = 1,320.00, issued Jan 1, the credit paying 50.00 of it:
      invoice.finalized  Dr AR 1,320.00 / Cr deferred 1,200.00, Cr tax 120.00
      credit.applied     Dr customer credit 50.00 / Cr AR 50.00 (1,270.00 due)
    January recognized: 1,200 x 31/365 = 101.917... -> 101.92 (Dr deferred / Cr revenue).
    Voided:
      credit.granted (returned)  Dr AR 50.00 / Cr customer credit 50.00
      revenue.unrecognized       Dr revenue 101.92 / Cr deferred 101.92
      invoice.voided             the finalization mirrored: Dr deferred 1,200, Dr tax 120 /
                                 Cr AR 1,320
    AR 0, deferred 0, tax 0 and customer credit -50.00 (the grant's): where they were before
    the invoice; revenue +50.00 (the concession) only."""
    customer = _customer(tenant)
    TaxRateFactory(organization=tenant.organization, country="US", rate=D("10"))
    with tenant.context():
        invoicing.customer_credit_grant(organization=tenant.organization, customer=customer,
                                        amount=D("50.00"), reason="Goodwill")
    before = account_balances(tenant)
    assert before == {Key.REVENUE: D("50.00"), Key.CUSTOMER_CREDIT: D("-50.00")}

    invoice = _finalize(tenant, _invoice(tenant, customer, ("1200.00", "ratable", YEAR_2026)),
                        date(2026, 1, 1))
    assert (invoice.total, invoice.credit_applied, invoice.amount_due) == (
        D("1320.00"), D("50.00"), D("1270.00"))
    assert _lines(tenant, "credit.applied") == [
        (Key.CUSTOMER_CREDIT, D("50.00"), D("0")),
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("50.00"))]
    recognize_through(tenant, date(2026, 1, 31))
    assert _lines(tenant, recognition.RECOGNIZED) == [
        (Key.DEFERRED_REVENUE, D("101.92"), D("0")), (Key.REVENUE, D("0"), D("101.92"))]

    with tenant.context():
        invoice = invoicing.invoice_void(invoice=invoice)
        grant = CreditGrant.objects.for_organization(tenant.organization).get()
        schedule = RevenueSchedule.objects.for_organization(tenant.organization).get()
    assert (invoice.status, grant.remaining) == (Invoice.Status.VOID, D("50.00"))
    assert (schedule.amount, schedule.recognized, schedule.done) == (D("0"), D("0"), True)
    assert _lines(tenant, "credit.granted") == [
        (Key.REVENUE, D("50.00"), D("0")), (Key.CUSTOMER_CREDIT, D("0"), D("50.00")),  # grant
        (Key.ACCOUNTS_RECEIVABLE, D("50.00"), D("0")),  # returned by the void
        (Key.CUSTOMER_CREDIT, D("0"), D("50.00")),
    ]
    assert _lines(tenant, "revenue.unrecognized") == [
        (Key.REVENUE, D("101.92"), D("0")), (Key.DEFERRED_REVENUE, D("0"), D("101.92"))]
    assert _lines(tenant, "invoice.voided") == [
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("1320.00")),
        (Key.DEFERRED_REVENUE, D("1200.00"), D("0")),
        (Key.SALES_TAX_PAYABLE, D("120.00"), D("0")),
    ]
    assert account_balances(tenant) == before
    recognize_through(tenant, date(2026, 12, 31))  # a cancelled schedule recognizes nothing more
    assert account_balances(tenant) == before
    trial_balance_is_zero(tenant, as_at_commit)


# --- 8. An invoice of credits ---------------------------------------------------------------------


def test_an_invoice_of_credits_gives_its_total_to_the_credit_balance(tenant, as_at_commit):
    """An invoice whose only line is a credit of -80.00 (no product: revenue, no tax):
      credit.granted     Dr AR 80.00 / Cr customer credit 80.00 (its total to the balance)
      invoice.finalized  Dr revenue 80.00 / Cr AR 80.00 (a negative total: the sides swap)
    AR -80 + 80 = 0 (nothing due: paid); the customer is owed 80.00; revenue -80."""
    customer = _customer(tenant)
    invoice = _invoice(tenant, customer, ("-80.00", None, {"kind": InvoiceLine.Kind.MANUAL,
                                                           "description": "Service credit"}))
    invoice = _finalize(tenant, invoice, date(2026, 2, 1))
    assert (invoice.total, invoice.credit_applied, invoice.amount_due, invoice.status) == (
        D("-80.00"), D("-80.00"), D("0"), Invoice.Status.PAID)
    assert _lines(tenant, "credit.granted") == [
        (Key.ACCOUNTS_RECEIVABLE, D("80.00"), D("0")),
        (Key.CUSTOMER_CREDIT, D("0"), D("80.00"))]
    assert _lines(tenant, "invoice.finalized") == [
        (Key.ACCOUNTS_RECEIVABLE, D("0"), D("80.00")), (Key.REVENUE, D("80.00"), D("0"))]
    with tenant.context():
        grant = CreditGrant.objects.for_organization(tenant.organization).get()
    assert (grant.kind, grant.remaining) == (CreditGrant.Kind.INVOICE, D("80.00"))
    assert account_balances(tenant) == {Key.CUSTOMER_CREDIT: D("-80.00"), Key.REVENUE: D("80.00")}
    trial_balance_is_zero(tenant, as_at_commit)
