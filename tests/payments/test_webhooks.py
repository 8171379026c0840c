"""The gateway webhook endpoint, ``POST /webhooks/stripe/<organization id>``: events signed
exactly as Stripe signs them (``t=<unix>,v1=<hmac-sha256(secret, "<t>.<payload>")>``), posted
raw. Processed once per event id, forged or stale signatures refused with nothing stored,
late events never undo a settled payment."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from invoicing.models import Invoice
from payments import services
from payments.models import GatewayEvent, Payment
from tests.support.payments import REFERENCE, deliver, event, save_card, signed
from zenskar.tenancy.context import tenant_context
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(tenant, billed):
    """A card payment of the whole invoice the gateway has not settled yet (the hosted page
    started it; the webhook will tell how it ends)."""
    invoice, customer = billed
    with tenant.context():
        return Payment.objects.create(
            organization=tenant.organization, customer=customer, invoice=invoice,
            amount=Decimal("100.00"), currency="USD", method=Payment.Method.CARD,
            reference=REFERENCE, initiated_by="customer", idempotency_key="checkout:test")


def state(tenant, payment):
    with tenant.context():
        payment.refresh_from_db()
        invoice = Invoice.objects.get(pk=payment.invoice_id)
        events = GatewayEvent.objects.filter(organization=tenant.organization).count()
    return payment, invoice, events


def test_a_valid_event_is_processed_once_even_when_delivered_three_times(client, tenant,
                                                                         pending):
    payload = event("evt_paid_1", "payment_intent.succeeded", status="succeeded")

    answers = [deliver(client, tenant.organization.id, payload) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    payment, invoice, events = state(tenant, pending)
    assert events == 1
    assert payment.status == "succeeded"
    # applied once: 100.00 paid on a 100.00 invoice, not 300.00
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "paid", Decimal("100.00"), Decimal("0"))
    assert payment.applied_amount == Decimal("100.00")
    with tenant.context():
        stored = GatewayEvent.objects.get(organization=tenant.organization)
        outbox = OutboxEvent.objects.filter(organization=tenant.organization,
                                            event_type="payment.succeeded").count()
    assert (stored.gateway_event_id, stored.event_type) == ("evt_paid_1",
                                                            "payment_intent.succeeded")
    assert stored.processed_at is not None
    assert outbox == 1  # one payment.succeeded for the tenant's own webhooks


@pytest.mark.parametrize("signature", [
    pytest.param(lambda p: signed(p, secret="whsec_forged"), id="another-secret"),
    pytest.param(lambda p: signed(p.replace(b"succeeded", b"SUCCEEDED")), id="other-payload"),
    pytest.param(lambda p: signed(p, at=int(time.time()) - 3600), id="stale-by-an-hour"),
    pytest.param(lambda p: "t=1,v1=00", id="garbage"),
    pytest.param(lambda p: "", id="missing"),
])
def test_a_forged_or_stale_signature_is_rejected_and_nothing_is_stored(client, tenant,
                                                                       pending, signature):
    payload = event("evt_forged", "payment_intent.succeeded", status="succeeded")

    response = deliver(client, tenant.organization.id, payload, signature(payload))

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request"
    payment, invoice, events = state(tenant, pending)
    assert events == 0
    assert payment.status == "pending"
    assert (invoice.status, invoice.amount_paid) == ("finalized", Decimal("0"))


def test_late_processing_and_failure_events_never_overwrite_succeeded(client, tenant, pending):
    # Stripe sent processing, then payment_failed (first card), then succeeded (second card);
    # they arrive with the success first.
    org = tenant.organization.id
    succeeded = event("evt_3", "payment_intent.succeeded", status="succeeded")
    processing = event("evt_1", "payment_intent.processing", status="processing")
    failed = event("evt_2", "payment_intent.payment_failed", status="requires_payment_method",
                   last_payment_error={"message": "Your card was declined."})

    for payload in (succeeded, processing, failed):
        assert deliver(client, org, payload).status_code == 200

    payment, invoice, events = state(tenant, pending)
    assert events == 3  # all stored, each once
    assert (payment.status, payment.failure_reason) == ("succeeded", "")
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "paid", Decimal("100.00"), Decimal("0"))


def test_processing_then_succeeded_ends_succeeded(client, tenant, pending):
    org = tenant.organization.id
    deliver(client, org, event("evt_1", "payment_intent.processing", status="processing"))
    payment, _, _ = state(tenant, pending)
    assert payment.status == "pending"  # processing is not an outcome

    deliver(client, org, event("evt_2", "payment_intent.succeeded", status="succeeded"))

    payment, invoice, _ = state(tenant, pending)
    assert (payment.status, invoice.amount_due) == ("succeeded", Decimal("0"))


def test_a_late_failure_does_not_undo_a_real_localstripe_charge(client, tenant, billed,
                                                                 localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    charged = tenant.client().post(f"/api/v1/invoices/{invoice.id}/payments",
                                   {"method": "card"}, format="json")
    assert charged.status_code == 201, charged.json()
    reference = charged.json()["reference"]
    assert reference.startswith("pi_") and charged.json()["status"] == "succeeded"

    late = event("evt_late_failure", "payment_intent.payment_failed", reference=reference,
                 last_payment_error={"message": "Your card was declined."})
    assert deliver(client, tenant.organization.id, late).status_code == 200

    with tenant.context():
        payment = Payment.objects.get(reference=reference)
        invoice.refresh_from_db()
    assert payment.status == "succeeded"
    assert (invoice.status, invoice.amount_paid) == ("paid", Decimal("100.00"))


def test_an_unknown_organization_is_404(client, tenant, pending):
    payload = event("evt_nowhere", "payment_intent.succeeded")

    response = deliver(client, uuid.uuid4(), payload)

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert state(tenant, pending)[2] == 0


def test_another_organizations_secret_and_url_never_reach_this_tenants_payment(
    client, tenant, other_tenant, pending, localstripe
):
    with other_tenant.context():
        services.gateway_account_set(
            organization=other_tenant.organization, kind="stripe", secret_key="sk_test_other",
            webhook_secret="whsec_other")
    payload = event("evt_cross", "payment_intent.succeeded", status="succeeded")

    # Signed with the other tenant's secret, sent to this tenant's URL: refused.
    forged = deliver(client, tenant.organization.id, payload, signed(payload, "whsec_other"))
    # Correctly signed for the other tenant, naming this tenant's payment reference: stored
    # for the other tenant, and this tenant's payment is untouched.
    theirs = deliver(client, other_tenant.organization.id, payload,
                     signed(payload, "whsec_other"))

    assert (forged.status_code, theirs.status_code) == (400, 200)
    payment, invoice, events = state(tenant, pending)
    assert (events, payment.status, invoice.amount_paid) == (0, "pending", Decimal("0"))
    with other_tenant.context():
        assert GatewayEvent.objects.filter(organization=other_tenant.organization).count() == 1


def test_an_organization_without_a_card_gateway_accepts_no_webhooks(client, make_organization):
    organization = make_organization("Manual Co")
    payload = event("evt_manual", "payment_intent.succeeded")

    response = deliver(client, organization.id, payload)

    assert response.status_code == 400
    with tenant_context(organization):
        assert GatewayEvent.objects.filter(organization=organization).count() == 0


def test_only_post_is_accepted(client, tenant):
    assert client.get(f"/webhooks/stripe/{tenant.organization.id}").status_code == 405
