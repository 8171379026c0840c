"""Overpayments and refunds made explicit, through the API: more than is due is refused unless
the excess is kept as credit on purpose; money the gateway already took keeps its excess
automatically; a refund says where its money comes from -- the unapplied credit the payment
left, or the invoice it paid (which then owes it again). Payments asks invoicing to move the
invoice and the balance; the books reconcile after every step.

Amounts worked out by hand beside each assertion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing import selectors
from invoicing.models import CreditGrant, Invoice
from payments.models import Payment, Refund
from tests.support.payments import bill, deliver, event, save_card
from tests.support.scenario import Scenario
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(scenario, stripe_gateway):
    """A finalized invoice of 6,412.50 USD, nothing paid yet."""
    invoice, _ = bill(scenario, amount="6412.50")
    return scenario.invoice(str(invoice.id))


def pay(scenario: Scenario, invoice: dict, status=201, **body):
    response = scenario.client.post(f"/api/v1/invoices/{invoice['id']}/payments",
                                    {"method": "bank_transfer", "reference": "TR-1", **body},
                                    format="json")
    assert response.status_code == status, response.json()
    return response.json()


def refund(scenario: Scenario, payment: dict, status=201, **body):
    response = scenario.client.post(f"/api/v1/payments/{payment['id']}/refunds",
                                    {"reason": "Asked back", **body}, format="json")
    assert response.status_code == status, response.json()
    return response.json()


def now(scenario: Scenario, invoice: dict) -> tuple:
    after = scenario.invoice(invoice["id"])
    return after["status"], after["amount_paid"], after["amount_refunded"], after["amount_due"]


def reconciled(scenario: Scenario) -> None:
    with scenario.tenant.context():
        books = selectors.reconciliation(organization=scenario.tenant.organization)
    for currency, sums in books.items():
        assert sums["books"] == sums["open_due"], (currency, sums)
        assert sums["credit_movements"] == sums["credit_lots"] >= 0, (currency, sums)


def test_recording_far_more_than_is_due_is_refused_naming_amount(scenario, invoice):
    refused = pay(scenario, invoice, status=400, amount="99999.00")

    assert list(refused["error"]["fields"]) == ["amount"]
    assert "$6,412.50 due" in refused["error"]["fields"]["amount"][0]
    assert "keep_excess_as_credit" in refused["error"]["fields"]["amount"][0]
    assert now(scenario, invoice) == ("finalized", "0.00", "0.00", "6412.50")  # untouched
    with scenario.tenant.context():
        assert not Payment.objects.exists() and not CreditGrant.objects.exists()
    assert scenario.customer_credit() == "0.00"


def test_kept_on_purpose_the_excess_becomes_credit(scenario, invoice):
    payment = pay(scenario, invoice, amount="99999.00", keep_excess_as_credit=True)

    # 6,412.50 pays the invoice; 99,999.00 - 6,412.50 = 93,586.50 is kept as credit
    assert (payment["status"], payment["applied_amount"]) == ("succeeded", "6412.50")
    assert now(scenario, invoice) == ("paid", "6412.50", "0.00", "0.00")
    assert scenario.customer_credit() == "93586.50"
    with scenario.tenant.context():
        applied = OutboxEvent.objects.get(event_type="payment.applied")
    assert (applied.payload["applied"], applied.payload["to_credit"]) == ("6412.50",
                                                                          "93586.50")
    reconciled(scenario)


def test_refunding_exactly_the_excess_leaves_the_invoice_paid_and_the_wallet_at_zero(
    scenario, invoice
):
    payment = pay(scenario, invoice, amount="99999.00", keep_excess_as_credit=True)

    back = refund(scenario, payment, amount="93586.50")  # no "from": the credit first

    assert (back["amount"], back["from_credit"], back["from_invoice"]) == (
        "93586.50", "93586.50", "0.00")
    assert now(scenario, invoice) == ("paid", "6412.50", "0.00", "0.00")  # still paid
    assert scenario.customer_credit() == "0.00"
    after = scenario.get(f"payments/{payment['id']}")
    # 93,586.50 of 99,999.00 refunded; the 6,412.50 that paid the invoice stays applied
    assert (after["status"], after["refunded_amount"], after["applied_amount"]) == (
        "partially_refunded", "93586.50", "6412.50")
    reconciled(scenario)


def test_a_refund_from_the_invoice_reopens_it_and_leaves_the_credit(scenario, invoice):
    payment = pay(scenario, invoice, amount="99999.00", keep_excess_as_credit=True)

    back = refund(scenario, payment, amount="1000.00", **{"from": "invoice"})

    assert (back["from_credit"], back["from_invoice"]) == ("0.00", "1000.00")
    # 6,412.50 paid - 1,000.00 refunded = 5,412.50; 1,000.00 owed again
    assert now(scenario, invoice) == ("finalized", "5412.50", "1000.00", "1000.00")
    assert scenario.customer_credit() == "93586.50"  # the excess is untouched
    reconciled(scenario)


def test_by_default_a_refund_takes_the_credit_first_then_the_invoice(scenario, invoice):
    payment = pay(scenario, invoice, amount="99999.00", keep_excess_as_credit=True)

    back = refund(scenario, payment, amount="93600.00")

    # 93,586.50 from the unapplied credit, the other 93,600.00 - 93,586.50 = 13.50 from
    # the invoice, which owes 13.50 again
    assert (back["from_credit"], back["from_invoice"]) == ("93586.50", "13.50")
    assert now(scenario, invoice) == ("finalized", "6399.00", "13.50", "13.50")
    assert scenario.customer_credit() == "0.00"
    reconciled(scenario)


def test_a_refund_beyond_its_source_is_refused_naming_from(scenario, invoice):
    payment = pay(scenario, invoice, amount="7000.00", keep_excess_as_credit=True)
    # 6,412.50 applied, 7,000.00 - 6,412.50 = 587.50 kept as credit

    from_credit = refund(scenario, payment, status=400, amount="587.51", **{"from": "credit"})
    from_invoice = refund(scenario, payment, status=400, amount="6412.51",
                          **{"from": "invoice"})
    nowhere = refund(scenario, payment, status=400, amount="1.00", **{"from": "wallet"})

    assert list(from_credit["error"]["fields"]) == ["from"]
    assert list(from_invoice["error"]["fields"]) == ["from"]
    assert "from" in nowhere["error"]["fields"]
    with scenario.tenant.context():
        assert not Refund.objects.exists()
    all_of_it = refund(scenario, payment)  # no amount: all that can be refunded now
    # 587.50 of credit + 6,412.50 paid on the invoice = 7,000.00
    assert (all_of_it["amount"], all_of_it["from_credit"], all_of_it["from_invoice"]) == (
        "7000.00", "587.50", "6412.50")
    assert now(scenario, invoice) == ("finalized", "0.00", "6412.50", "6412.50")
    reconciled(scenario)


def test_credit_used_by_another_invoice_can_no_longer_be_refunded(scenario, stripe_gateway):
    invoice, _ = bill(scenario, amount="100.00")
    payment = pay(scenario, {"id": str(invoice.id)}, amount="150.00",
                  keep_excess_as_credit=True)
    scenario.run("2026-02-05")  # February's 100.00 uses the 50.00 of credit

    refused = refund(scenario, payment, status=400, amount="10.00", **{"from": "credit"})

    assert "$0.00 of this payment is unapplied credit" in refused["error"]["fields"]["from"][0]


def test_a_refund_reopens_an_uncollectible_invoice_as_uncollectible(scenario, invoice):
    scenario.post(f"invoices/{invoice['id']}/mark-uncollectible", {}, status=200)
    payment = pay(scenario, invoice, amount="6412.50")
    assert now(scenario, invoice)[0] == "paid"  # the money came after all

    refund(scenario, payment, amount="412.50")

    # owed again: back to where the money found it
    assert now(scenario, invoice) == ("uncollectible", "6000.00", "412.50", "412.50")


def test_a_card_charge_above_what_is_due_is_refused_before_the_gateway(
    scenario, tenant, invoice, localstripe
):
    with tenant.context():
        customer = Invoice.objects.get(id=invoice["id"]).customer
    save_card(tenant, customer, localstripe)

    refused = pay(scenario, invoice, status=400, method="card", amount="7000.00")
    with tenant.context():
        assert not Payment.objects.exists()  # no attempt, no call to the gateway
    assert list(refused["error"]["fields"]) == ["amount"]
    charged = pay(scenario, invoice, method="card", amount="7000.00",
                  keep_excess_as_credit=True)

    assert (charged["status"], charged["applied_amount"]) == ("succeeded", "6412.50")
    assert scenario.customer_credit() == "587.50"  # 7,000.00 - 6,412.50


def test_a_gateway_success_for_more_than_is_now_due_keeps_the_excess(
    scenario, tenant, client, invoice
):
    with tenant.context():
        target = Invoice.objects.get(id=invoice["id"])
        pending = Payment.objects.create(
            organization=tenant.organization, customer=target.customer, invoice=target,
            amount=Decimal("6412.50"), currency="USD", method=Payment.Method.CARD,
            reference="pi_in_flight", initiated_by="customer", idempotency_key="checkout:x")
    # while the card payment is in flight, a credit note takes 412.50 off what is due
    scenario.post(f"invoices/{invoice['id']}/credit-notes", {"reason": "Outage", "lines": [
        {"line": invoice["lines"][0]["id"], "amount": "412.50"}]})

    answer = deliver(client, tenant.organization.id,
                     event("evt_late", "payment_intent.succeeded", reference="pi_in_flight",
                           status="succeeded"))

    assert answer.status_code == 200
    with tenant.context():
        pending.refresh_from_db()
    # the money is taken: 6,000.00 pays what is now due, the other 412.50 becomes credit
    assert (pending.status, pending.applied_amount) == ("succeeded", Decimal("6000.00"))
    assert now(scenario, invoice) == ("paid", "6000.00", "0.00", "0.00")
    assert scenario.customer_credit() == "412.50"
    reconciled(scenario)


def test_refunds_publish_payment_refunded_with_where_the_money_came_from(scenario, invoice):
    payment = pay(scenario, invoice, amount="7000.00", keep_excess_as_credit=True)

    refund(scenario, payment, amount="600.00")  # 587.50 from credit, 12.50 from the invoice

    with scenario.tenant.context():
        events = sorted((e.payload["from"], e.payload["amount"]) for e in
                        OutboxEvent.objects.filter(event_type="payment.refunded"))
    assert events == [("credit", "587.50"), ("invoice", "12.50")]
