"""POST /api/v1/checkout-sessions: a signed payment link for an invoice, or for buying prepaid
credit; validation that names fields; one organization's sessions only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invoicing import services as invoicing
from payments import services
from payments.checkout import links as checkout
from payments.models import CheckoutSession
from tests.support.checkout import card_form, confirm_in_browser
from tests.support.payments import GOOD

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(scenario, billed):
    """A finalized 100.00 January invoice (flat fee, no tax), all of it due, as the API
    shows it."""
    invoice, _ = billed
    return scenario.invoice(str(invoice.id))


def create(tenant, body, status=201, role="admin"):
    response = tenant.client(role).post("/api/v1/checkout-sessions", body, format="json")
    assert response.status_code == status, response.json()
    return response.json()


def pay_link(client, localstripe, url):
    """Open the link and pay it with the good test card, as the browser would."""
    path = urlsplit(url).path
    form = card_form(client.get(path))
    confirm_in_browser(localstripe, form, GOOD)
    return client.post(f"{path}confirm", {"setup_intent": form["setup_intent"],
                                          "signature": form["signature"]},
                       content_type="application/json")


def test_a_session_for_an_invoice(tenant, invoice, client):
    before = timezone.now()
    body = create(tenant, {"invoice": invoice["id"],
                           "success_url": "https://acme.test/thanks",
                           "cancel_url": "https://acme.test/billing"})

    assert {k: body[k] for k in ("kind", "status", "amount", "currency", "invoice", "customer",
                                 "success_url", "cancel_url")} == {
        "kind": "invoice", "status": "open", "amount": "100.00", "currency": "USD",
        "invoice": invoice["id"], "customer": "acme", "success_url": "https://acme.test/thanks",
        "cancel_url": "https://acme.test/billing"}
    assert body["url"].startswith(f"{settings.PUBLIC_URL}/pay/")
    expires = parse_datetime(body["expires_at"])
    assert before + timedelta(days=30) <= expires <= timezone.now() + timedelta(days=30)
    # The link opens the page, which names the session's invoice.
    token = urlsplit(body["url"]).path.split("/")[2]
    assert checkout.read_token(token) == (str(tenant.organization.id), body["id"])
    page = client.get(urlsplit(body["url"]).path)
    assert page.status_code == 200
    assert invoice["number"] in page.content.decode()
    # Asked again with the same return addresses: the same open session.
    again = create(tenant, {"invoice": invoice["id"], "success_url": "https://acme.test/thanks",
                            "cancel_url": "https://acme.test/billing"})
    assert again["id"] == body["id"]


def test_the_amount_is_what_is_still_due(tenant, invoice):
    first = create(tenant, {"invoice": invoice["id"]})
    with tenant.context():
        from invoicing.models import Invoice

        services.payment_record_offline(
            invoice=Invoice.objects.get(id=invoice["id"]), amount=Decimal("40.00"),
            method="bank_transfer", reference="TR-3", received_on=None, actor="ana@acme.test")

    again = create(tenant, {"invoice": invoice["id"]})

    assert again["id"] == first["id"]
    assert (first["amount"], again["amount"]) == ("100.00", "60.00")  # 100.00 - 40.00 paid


def test_an_invoice_that_cannot_be_paid_online_is_refused(tenant, invoice, scenario):
    with tenant.context():
        from invoicing.models import Invoice

        row = Invoice.objects.get(id=invoice["id"])
        services.payment_record_offline(invoice=row, amount=Decimal("100.00"),
                                        method="cheque", reference="CHQ-1", received_on=None,
                                        actor="ana@acme.test")
    paid = create(tenant, {"invoice": invoice["id"]}, status=400)
    assert paid["error"]["fields"] == {"invoice": ["The invoice is already paid."]}

    draft = scenario.post("invoices", {"customer": "acme", "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "50.00"}]})
    refused = create(tenant, {"invoice": draft["id"]}, status=400)
    assert refused["error"]["fields"] == {"invoice": [
        "The invoice is a draft: finalize it before asking for payment."]}


def test_validation_names_the_fields(tenant, invoice):
    nothing = create(tenant, {}, status=400)
    assert nothing["error"]["fields"] == {
        "customer": ["Required for a prepaid purchase (or give an invoice)."],
        "amount": ["Required for a prepaid purchase (or give an invoice)."]}

    both = create(tenant, {"invoice": invoice["id"], "amount": "5.00"}, status=400)
    assert both["error"]["fields"] == {
        "amount": ["Not with an invoice: the invoice says who pays what."]}

    bad = create(tenant, {"invoice": "not-a-uuid", "success_url": "nowhere"}, status=400)
    assert set(bad["error"]["fields"]) == {"invoice", "success_url"}

    for amount, reason in (("0", "Must be more than zero."),
                           ("10.005", "At most 2 decimal places in USD.")):
        refused = create(tenant, {"customer": "acme", "amount": amount}, status=400)
        assert refused["error"]["fields"] == {"amount": [reason]}

    unknown = create(tenant, {"customer": "nobody", "amount": "10.00"}, status=400)
    assert unknown["error"]["fields"] == {"customer": ["No customer has this external_id."]}
    with tenant.context():
        assert not CheckoutSession.objects.filter(organization=tenant.organization).exists()


def test_a_prepaid_purchase_credits_the_customer_once_paid(tenant, invoice, client,
                                                           localstripe):
    body = create(tenant, {"customer": "acme", "amount": "250.00",
                           "description": "API credits"})
    assert {k: body[k] for k in ("kind", "status", "amount", "currency", "invoice",
                                 "description")} == {
        "kind": "prepaid", "status": "open", "amount": "250.00", "currency": "USD",
        "invoice": None, "description": "API credits"}

    assert pay_link(client, localstripe, body["url"]).status_code == 200

    with tenant.context():
        from contracts.models import Customer

        customer = Customer.objects.get(organization=tenant.organization, external_id="acme")
        # 250.00 bought; nothing used yet
        assert invoicing.customer_credit_balance(customer=customer, currency="USD") == \
            Decimal("250.00")
    [listed] = tenant.client().get("/api/v1/checkout-sessions").json()["results"]
    assert (listed["id"], listed["status"]) == (body["id"], "complete")


def test_prepaid_needs_a_card_gateway(tenant, invoice):
    with tenant.context():
        services.gateway_account_set(organization=tenant.organization, kind="manual")
    refused = create(tenant, {"customer": "acme", "amount": "10.00"}, status=400)
    assert refused["error"]["fields"] == {
        "customer": ["Prepaid purchases are paid by card: connect a card gateway."]}


def test_another_organizations_invoice_and_sessions_stay_theirs(tenant, other_tenant, invoice):
    theirs = create(tenant, {"invoice": invoice["id"]})

    response = other_tenant.client().post("/api/v1/checkout-sessions",
                                          {"invoice": invoice["id"]}, format="json")
    prepaid = other_tenant.client().post("/api/v1/checkout-sessions",
                                         {"customer": "acme", "amount": "10.00"}, format="json")
    listed = other_tenant.client().get("/api/v1/checkout-sessions").json()["results"]

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert prepaid.status_code == 400  # their "acme" does not exist for them
    assert listed == []
    with other_tenant.context():
        assert not CheckoutSession.objects.filter(
            organization=other_tenant.organization).exists()
    own = tenant.client().get("/api/v1/checkout-sessions").json()["results"]
    assert [row["id"] for row in own] == [theirs["id"]]


def test_a_viewer_cannot_create_a_session(tenant, invoice):
    refused = create(tenant, {"invoice": invoice["id"]}, status=403, role="viewer")
    assert refused["error"]["type"] == "permission_denied"
