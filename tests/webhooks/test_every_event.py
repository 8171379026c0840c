"""Every event type of the catalogue reaches a tenant's endpoint: the system is driven as a
tenant uses it -- a contract billed, credit granted and applied, usage past a limit and a
prepaid balance used up, payments recorded, refunded and declined, a credit note, one-off
invoices voided, written off and deleted, a reminder by webhook, entitlements paused and
resumed, the books closed, a test message -- and a receiver on loopback sees each type at
least once, every message signed (the specification's scheme, verified independently) and
shaped as the catalogue documents it. When the catalogue grows, this fails until the new
event type is produced here too."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import jsonschema
import pytest

from contracts.models import Customer
from entitlements import services as entitlements
from entitlements.models import Feature
from invoicing.tasks import expire_credits
from payments import services as payments
from payments.models import Payment
from tests.support.entitlements import feature, include
from tests.support.payments import REFERENCE, WEBHOOK_SECRET, deliver, event
from tests.support.receivables import policy
from tests.support.scenario import flat
from tests.support.webhooks import dispatch_and_send, endpoint, verified_by
from zenskar.webhooks import catalogue
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db

OVERDUE = {"match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": 1}]}


def one_off(s, memo: str, amount: str = "40.00") -> dict:
    return s.post("invoices", {"customer": "acme", "memo": memo, "lines": [
        {"description": memo, "quantity": "1", "unit_price": amount}]})


def test_every_event_type_of_the_catalogue_reaches_the_endpoint(
        scenario, tenant, receiver, clock, hourly, client):
    s = scenario
    organization = tenant.organization
    clock.at(datetime(2026, 1, 2, 9, tzinfo=UTC))
    hook = endpoint(tenant, receiver.url)  # every event type (none named)

    # A customer on a plan with a metered limit (10 API calls a month, notice at 80 %) and a
    # prepaid balance of compute hours; 30.00 of credit granted before the first invoice.
    acme = s.customer("acme")
    plan = s.product("PLATFORM")
    s.meter("api_calls", event_name="api_call")
    s.meter("hours", event_name="compute", aggregation="sum", value_property="$.hours")
    feature(s, "api_calls", "metered", meter="api_calls", reset="monthly", notify_at="0.8")
    include(s, plan["id"], "api_calls", value="10")
    feature(s, "compute_hours", "prepaid", meter="hours")
    contract = s.contract(start="2026-01-01", end="2027-01-01",
                          items=[flat("PLATFORM", "100.00")])
    s.post(f"customers/{acme['id']}/balance/grants", {"amount": "30.00",
                                                      "reason": "Welcome"})  # granted

    # The billing run: the January invoice is made and finalized; the credit pays 30.00.
    s.run("2026-01-02")  # invoice.created, invoice.finalized, credit.applied
    [january] = s.invoices(contract["id"])
    assert (january["status"], january["amount_due"]) == ("finalized", "70.00")  # 100 - 30

    # Usage: 8 calls (80 % of 10), then 10; 10 compute hours of a 10-hour balance.
    with tenant.context():
        customer = Customer.objects.get(organization=organization, external_id="acme")
        hours = Feature.objects.get(organization=organization, key="compute_hours")
        entitlements.balance_grant(customer=customer, feature=hours, units="10",
                                   source="grant:hours")  # entitlement.balance_topped_up
    s.events(*[(f"call-{i}", "acme", "api_call", "2026-01-02T08:00:00Z", {})
               for i in range(8)])
    with tenant.context():
        entitlements.notices_evaluate(organization=organization,
                                      pairs={("acme", "api_calls")})  # limit_approaching
    s.events(("call-8", "acme", "api_call", "2026-01-02T08:30:00Z", {}),
             ("call-9", "acme", "api_call", "2026-01-02T08:30:00Z", {}),
             ("hours-1", "acme", "compute", "2026-01-02T08:30:00Z", {"hours": 10}))
    with tenant.context():
        entitlements.notices_evaluate(organization=organization, pairs={
            ("acme", "api_calls"), ("acme", "hours")})  # limit_reached, balance_exhausted

    # Money: 70.00 received, 10.00 of it refunded, a 5.00 credit note.
    with tenant.context():
        payments.gateway_account_set(organization=organization, kind="manual")
    paid = s.post(f"invoices/{january['id']}/payments", {
        "method": "bank_transfer", "amount": "70.00",
        "reference": "TR-1"})  # payment.succeeded, payment.applied
    s.post(f"payments/{paid['id']}/refunds", {"amount": "10.00", "from": "invoice"})
    line = s.invoice(january["id"])["lines"][0]  # refund.created, payment.refunded
    s.post(f"invoices/{january['id']}/credit-notes", {
        "reason": "Goodwill", "lines": [{"line": line["id"], "amount": "5.00"}]})

    # One-off invoices: voided, written off, deleted; one left open and overdue.
    voided, written_off, kept = (one_off(s, memo) for memo in ("Void", "Bad debt", "Kept"))
    deleted = one_off(s, "Mistake")
    for invoice in (voided, written_off, kept):
        s.post(f"invoices/{invoice['id']}/finalize", {}, status=200)
    s.post(f"invoices/{voided['id']}/void", {}, status=200)
    s.post(f"invoices/{written_off['id']}/mark-uncollectible", {}, status=200)
    assert s.client.delete(f"/api/v1/invoices/{deleted['id']}").status_code == 204

    # Credit that expires unused, and entitlements paused and resumed.
    s.post(f"customers/{acme['id']}/balance/grants", {
        "amount": "5.00", "reason": "Promo", "expires_at": "2026-01-20T00:00:00Z"})
    with tenant.context():
        entitlements.customer_entitlements_pause(organization=organization, customer=customer,
                                                 reason="Overdue")
        entitlements.customer_entitlements_resume(organization=organization,
                                                  customer=customer)

    # February: the credit expires, a reminder goes out by webhook, January is closed.
    policy(tenant, "Overdue", OVERDUE, [{"offset_days": 1, "channel": "webhook"}])
    clock.at(datetime(2026, 2, 20, 9, tzinfo=UTC))
    expire_credits(str(organization.id))  # credit.expired
    hourly.run(tenant, datetime(2026, 2, 20, 10, tzinfo=UTC))  # invoice.reminder
    s.post("revenue/closes", {"closed_through": "2026-01-31", "force": True,
                              "note": "January"})  # revenue.period_closed

    # A card payment the gateway declines (its webhook, signed as the gateway signs).
    with tenant.context():
        payments.gateway_account_set(organization=organization, kind="stripe",
                                     secret_key="sk_test_emulated",
                                     webhook_secret=WEBHOOK_SECRET)
        Payment.objects.create(
            organization=organization, customer=customer, invoice_id=kept["id"],
            amount=Decimal("40.00"), currency="USD", method=Payment.Method.CARD,
            reference=REFERENCE, initiated_by="customer", idempotency_key="checkout:kept")
    declined = event("evt_declined", "payment_intent.payment_failed",
                     status="requires_payment_method",
                     last_payment_error={"message": "Your card was declined."})
    assert deliver(client, organization.id, declined).status_code == 200  # payment.failed

    s.post(f"webhook-endpoints/{hook['id']}/test", {}, status=202)  # webhook.test
    dispatch_and_send(tenant)

    seen = {request.type for request in receiver.requests}
    assert sorted(set(catalogue.NAMES) - seen) == []  # every type of the catalogue arrived
    assert seen <= set(catalogue.NAMES)
    for request in receiver.requests:
        assert verified_by(request, [hook["secret"]]) == [hook["secret"]], request.type
        assert request.id.startswith("msg_")
        # shaped as the API reference documents it (its `webhooks`)
        jsonschema.validate(request.message,
                            catalogue.BY_NAME[request.type].message_schema(),
                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert len({request.id for request in receiver.requests}) == len(receiver.requests)
    with tenant.context():  # and nothing the system wrote is missing from the catalogue
        written = set(OutboxEvent.objects.for_organization(organization)
                      .values_list("event_type", flat=True))
    assert written == seen
