"""Collecting money against a real localstripe: auto-charge, declines and retries, partial
and over-payments, refunds. Amounts worked out by hand beside each assertion."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from invoicing import services as invoicing
from payments import refunds, services
from payments.models import ChargeSchedule, Payment
from payments.tasks import auto_charge
from tests.support.payments import DECLINED, save_card

pytestmark = pytest.mark.django_db


def _run(tenant, invoice):
    return auto_charge(str(tenant.organization.id), str(invoice.id))


def test_finalization_charges_the_default_card(tenant, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    assert _run(tenant, invoice) == "succeeded"
    with tenant.context():
        invoice.refresh_from_db()
        payment = Payment.objects.get(invoice=invoice)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "paid", Decimal("100.00"), Decimal("0"))
    assert payment.reference.startswith("pi_") and payment.initiated_by == "auto"


def test_running_the_charge_task_twice_charges_once(tenant, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    _run(tenant, invoice)
    _run(tenant, invoice)
    with tenant.context():
        assert Payment.objects.filter(invoice=invoice).count() == 1
        invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("100.00")


def test_a_declined_card_records_the_failure_and_schedules_a_retry(tenant, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe, number=DECLINED)
    assert _run(tenant, invoice) == "failed"
    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
        schedule = ChargeSchedule.objects.get(invoice=invoice)
        invoice.refresh_from_db()
    assert payment.failure_reason == "Your card was declined."
    assert invoice.status == "finalized" and invoice.amount_due == Decimal("100.00")
    # first retry one day after finalization (retry days [1, 3, 5, 7])
    assert schedule.next_attempt_at == invoice.finalized_at + timedelta(days=1)
    for _ in range(4):  # attempts 2 to 5: after day 7 the schedule stops
        _run(tenant, invoice)
    with tenant.context():
        schedule.refresh_from_db()
        assert Payment.objects.filter(invoice=invoice, status="failed").count() == 5
    assert schedule.stopped and schedule.next_attempt_at is None


def test_partial_then_final_payment_marks_the_invoice_paid(tenant, billed):
    invoice, _ = billed
    with tenant.context():
        services.payment_record_offline(invoice=invoice, amount=Decimal("40.00"),
                                        method="bank_transfer", reference="TR-1",
                                        received_on=None, actor="ana@acme.test")
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_due) == ("finalized", Decimal("60.00"))
        services.payment_record_offline(invoice=invoice, amount=Decimal("60.00"),
                                        method="cheque", reference="CHQ-9",
                                        received_on=None, actor="ana@acme.test")
        invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "paid", Decimal("100.00"), Decimal("0"))


def test_an_overpayment_becomes_credit_used_by_the_next_invoice(scenario, tenant, billed):
    invoice, customer = billed
    with tenant.context():
        with pytest.raises(ValidationError) as refused:  # not silently: the caller says so
            services.payment_record_offline(invoice=invoice, amount=Decimal("150.00"),
                                            method="bank_transfer", reference="TR-2",
                                            received_on=None, actor="ana@acme.test")
        assert list(refused.value.message_dict) == ["amount"]
        services.payment_record_offline(invoice=invoice, amount=Decimal("150.00"),
                                        method="bank_transfer", reference="TR-2",
                                        received_on=None, actor="ana@acme.test",
                                        keep_excess_as_credit=True)
        assert invoicing.customer_credit_balance(customer=customer, currency="USD") == \
            Decimal("50.00")  # 150.00 paid on a 100.00 invoice
    scenario.run("2026-02-05")
    feb = scenario.invoices(invoice.contract_id)[1]
    # February: 100.00, of which the 50.00 credit pays half
    assert (feb["credit_applied"], feb["amount_due"]) == ("50.00", "50.00")


def test_full_and_partial_refunds(tenant, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    _run(tenant, invoice)
    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
        refunds.refund_create(payment=payment, amount=Decimal("30.00"), reason="Outage",
                               actor="ana@acme.test")
        payment.refresh_from_db()
        invoice.refresh_from_db()
        assert (payment.status, payment.refunded_amount) == ("partially_refunded",
                                                             Decimal("30.00"))
        assert (invoice.status, invoice.amount_due) == ("finalized", Decimal("30.00"))
        refunds.refund_create(payment=payment, amount=Decimal("70.00"), reason="Churn",
                               actor="ana@acme.test")
        payment.refresh_from_db()
        with pytest.raises(ValidationError, match="Only a succeeded payment"):
            refunds.refund_create(payment=payment, amount=Decimal("1.00"), reason="x",
                                   actor="ana@acme.test")
    assert (payment.status, payment.refunded_amount) == ("refunded", Decimal("100.00"))
