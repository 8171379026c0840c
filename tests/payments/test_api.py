"""The payments REST API against a real localstripe: the gateway (secrets write-only), saved
cards, collecting an invoice (card now, or offline), the payment list and detail, refunds,
roles and tenant isolation. Amounts worked out by hand beside each assertion."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from payments import refunds, services
from payments.models import GatewayAccount, Payment, PaymentMethod, Refund
from tests.support.payments import (
    DECLINED,
    GOOD,
    WEBHOOK_SECRET,
    bill,
    confirm_card,
    invoice_now,
    offline,
    save_card,
)
from tests.support.scenario import Scenario
from zenskar.crypto import decrypt_json

pytestmark = pytest.mark.django_db

SECRET_KEY = "sk_test_emulated"


@pytest.fixture
def api(tenant):
    return tenant.client()


# --- Gateway -----------------------------------------------------------------------------------


GATEWAY = {"kind": "stripe", "mode": "test", "secret_key": "sk_test_very_secret_1234",
           "webhook_secret": "whsec_very_secret_5678", "publishable_key": "pk_test_abc",
           "retry_days": [2, 4]}


def test_the_gateway_is_set_and_read_back_without_its_secrets(tenant, api):
    put = api.put("/api/v1/gateway", GATEWAY, format="json")
    got = api.get("/api/v1/gateway")

    assert put.status_code == 200, put.json()
    assert got.json() == put.json()
    body = got.json()
    assert {k: body[k] for k in ("kind", "mode", "publishable_key", "retry_days")} \
        == {"kind": "stripe", "mode": "test", "publishable_key": "pk_test_abc",
            "retry_days": [2, 4]}
    assert (body["has_secret_key"], body["has_webhook_secret"]) == (True, True)
    assert body["webhook_url"] == \
        f"{settings.PUBLIC_URL}/webhooks/stripe/{tenant.organization.id}"
    for response in (put, got):
        assert not {"secret_key", "webhook_secret"} & set(response.json())
        assert "very_secret" not in response.content.decode()
    with tenant.context():
        stored = bytes(GatewayAccount.objects.get(
            organization=tenant.organization).encrypted_credentials)
    assert b"very_secret" not in stored  # encrypted at rest, not the plaintext
    assert decrypt_json(stored) == {"secret_key": "sk_test_very_secret_1234",
                                    "webhook_secret": "whsec_very_secret_5678"}


def test_a_put_without_secrets_keeps_the_stored_ones(tenant, api):
    api.put("/api/v1/gateway", GATEWAY, format="json")

    response = api.put("/api/v1/gateway", {"kind": "stripe", "retry_days": [1]}, format="json")

    assert response.status_code == 200
    assert response.json()["retry_days"] == [1]
    with tenant.context():
        account = GatewayAccount.objects.get(organization=tenant.organization)
    assert decrypt_json(account.encrypted_credentials)["secret_key"] == \
        "sk_test_very_secret_1234"


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "paypal"}, "kind"),
    ({"kind": "stripe"}, "secret_key"),  # no key stored, none given
    ({**GATEWAY, "retry_days": [5, 1]}, "retry_days"),
])
def test_bad_gateway_settings_are_400_on_their_field(tenant, api, body, field):
    response = api.put("/api/v1/gateway", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with tenant.context():
        assert not GatewayAccount.objects.filter(organization=tenant.organization).exists()


def test_no_gateway_yet_is_404(api):
    assert api.get("/api/v1/gateway").status_code == 404
    response = api.post("/api/v1/gateway/test")
    assert response.status_code == 400
    assert "gateway" in response.json()["error"]["fields"]


def test_testing_the_connection_says_whether_stripe_answered(tenant, api, localstripe):
    api.put("/api/v1/gateway", {**GATEWAY, "secret_key": SECRET_KEY}, format="json")
    assert api.post("/api/v1/gateway/test").json() == {"ok": True,
                                                       "message": "Connected to Stripe."}

    # localstripe refuses a key that is not sk_...
    api.put("/api/v1/gateway", {**GATEWAY, "secret_key": "rk_wrong"}, format="json")
    result = api.post("/api/v1/gateway/test")
    assert result.status_code == 200
    assert result.json()["ok"] is False and result.json()["message"]


@pytest.mark.parametrize("role", ["viewer", "finance"])
def test_only_owners_and_admins_change_the_gateway(tenant, role):
    client = tenant.client(role)

    assert client.put("/api/v1/gateway", GATEWAY, format="json").status_code == 403
    assert client.post("/api/v1/gateway/test").status_code == 403
    with tenant.context():
        assert not GatewayAccount.objects.filter(organization=tenant.organization).exists()


# --- Saved cards -------------------------------------------------------------------------------


def test_a_card_is_saved_through_a_setup_intent(tenant, api, billed, localstripe):
    _, customer = billed
    base = f"/api/v1/customers/{customer.id}/payment-methods"

    started = api.post(f"{base}/setup")
    assert started.status_code == 201, started.json()
    setup = started.json()
    assert setup["setup_intent"].startswith("seti_") and setup["client_secret"]
    assert (setup["publishable_key"], setup["js_url"]) == (
        "pk_test_emulated", f"{localstripe}/js.stripe.com/v3/")
    confirm_card(localstripe, setup["setup_intent"], GOOD)  # Stripe.js, in the browser

    recorded = api.post(base, {"setup_intent": setup["setup_intent"]}, format="json")
    again = api.post(base, {"setup_intent": setup["setup_intent"]}, format="json")
    listed = api.get(base).json()["results"]

    assert recorded.status_code == 201, recorded.json()
    card = recorded.json()
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"],
            card["is_default"]) == ("visa", "4242", 12, 2030, True)
    assert again.json()["id"] == card["id"]  # recorded once
    assert [m["id"] for m in listed] == [card["id"]]


def test_an_unconfirmed_or_unknown_setup_intent_is_400(tenant, api, billed):
    _, customer = billed
    response = api.post(f"/api/v1/customers/{customer.id}/payment-methods",
                        {"setup_intent": "seti_does_not_exist"}, format="json")

    assert response.status_code == 400
    assert "setup_intent" in response.json()["error"]["fields"]
    with tenant.context():
        assert PaymentMethod.objects.count() == 0


def test_without_a_card_gateway_a_setup_is_400_on_the_gateway(tenant, scenario):
    customer = scenario.customer()
    response = tenant.client().post(f"/api/v1/customers/{customer['id']}/payment-methods/setup")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["gateway"] == ["This gateway processes no cards."]


# --- Collecting an invoice ---------------------------------------------------------------------


def test_an_offline_payment_is_recorded_against_the_invoice(tenant, api, billed):
    invoice, _ = billed
    response = api.post(f"/api/v1/invoices/{invoice.id}/payments", {
        "method": "bank_transfer", "amount": "40.00", "reference": "TR-7",
        "received_on": "2026-01-20"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("amount", "currency", "method", "status", "reference",
                                 "received_on", "invoice", "invoice_number", "customer",
                                 "applied_amount", "refunded_amount")} == {
        "amount": "40.00", "currency": "USD", "method": "bank_transfer",
        "status": "succeeded", "reference": "TR-7", "received_on": "2026-01-20",
        "invoice": str(invoice.id), "invoice_number": invoice.number, "customer": "acme",
        "applied_amount": "40.00", "refunded_amount": "0.00"}
    assert body["initiated_by"].startswith("api key ")
    # 100.00 - 40.00 = 60.00 still due
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("40.00"), Decimal("60.00"))


def test_an_offline_payment_defaults_to_the_amount_due_and_today(tenant, api, billed):
    invoice, _ = billed
    response = api.post(f"/api/v1/invoices/{invoice.id}/payments",
                        {"method": "cheque", "reference": "CHQ-1"}, format="json")

    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["received_on"]) == (
        "100.00", timezone.localdate().isoformat())  # the organization's zone is UTC
    assert invoice_now(tenant, invoice) == ("paid", Decimal("100.00"), Decimal("0"))


def test_the_saved_card_is_charged_now(tenant, api, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)

    response = api.post(f"/api/v1/invoices/{invoice.id}/payments",
                        {"method": "card", "amount": "25.00"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["amount"], body["method"], body["attempt"]) == (
        "succeeded", "25.00", "card", 1)
    assert body["reference"].startswith("pi_")
    # 100.00 - 25.00 = 75.00 still due
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("25.00"), Decimal("75.00"))


def test_a_declined_card_is_a_failed_payment_and_the_next_try_is_a_new_attempt(
    tenant, api, billed, localstripe
):
    invoice, customer = billed
    save_card(tenant, customer, localstripe, number=DECLINED)
    url = f"/api/v1/invoices/{invoice.id}/payments"

    first = api.post(url, {"method": "card"}, format="json").json()
    second = api.post(url, {"method": "card"}, format="json").json()

    assert (first["status"], first["failure_reason"], first["attempt"]) == (
        "failed", "Your card was declined.", 1)
    assert (second["status"], second["attempt"]) == ("failed", 2)
    assert first["id"] != second["id"]
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("0"), Decimal("100.00"))


def test_a_charge_retried_with_its_idempotency_key_charges_once(tenant, api, billed,
                                                                localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    url = f"/api/v1/invoices/{invoice.id}/payments"

    first = api.post(url, {"method": "card", "amount": "10.00"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="charge-once")
    second = api.post(url, {"method": "card", "amount": "10.00"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="charge-once")

    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    with tenant.context():
        assert Payment.objects.filter(invoice=invoice).count() == 1
    assert invoice_now(tenant, invoice)[1] == Decimal("10.00")


@pytest.mark.parametrize(("body", "field"), [
    ({"method": "card"}, "payment_method"),  # no saved card
    ({"method": "bank_transfer", "amount": "10.005"}, "amount"),  # USD has 2 decimals
    ({"method": "cash", "amount": "-5"}, "amount"),
    ({"method": "crypto"}, "method"),
    ({"method": "cash", "received_on": "20 January"}, "received_on"),
])
def test_bad_collection_requests_are_400_and_write_nothing(tenant, api, billed, body, field):
    invoice, _ = billed

    response = api.post(f"/api/v1/invoices/{invoice.id}/payments", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with tenant.context():
        assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_draft_invoice_is_not_collected(tenant, api, scenario, stripe_gateway):
    scenario.customer()
    draft = scenario.post("invoices", {"customer": "acme", "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "50.00"}]})

    response = api.post(f"/api/v1/invoices/{draft['id']}/payments",
                        {"method": "cash"}, format="json")

    assert response.status_code == 400
    assert "invoice" in response.json()["error"]["fields"]


# --- Listing payments --------------------------------------------------------------------------


def test_payments_are_listed_newest_first_and_filtered(tenant, api, scenario, stripe_gateway):
    acme_invoice, acme = bill(scenario, "acme")
    beta_invoice, beta = bill(scenario, "beta", amount="80.00")
    first = offline(tenant, acme_invoice, "30.00", "A-1")
    second = offline(tenant, beta_invoice, "80.00", "B-1")
    third = offline(tenant, acme_invoice, "70.00", "A-2")

    def ids(**params):
        response = api.get("/api/v1/payments", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [str(third.id), str(second.id), str(first.id)]
    assert ids(customer="acme") == [str(third.id), str(first.id)]
    assert ids(customer=str(beta.id)) == [str(second.id)]
    assert ids(invoice=str(acme_invoice.id)) == [str(third.id), str(first.id)]
    assert ids(status="succeeded", invoice=str(beta_invoice.id)) == [str(second.id)]
    assert ids(status="failed") == []
    for bad in ({"status": "lost"}, {"invoice": "INV-1"}):
        response = api.get("/api/v1/payments", bad)
        assert response.status_code == 400
        assert set(response.json()["error"]["fields"]) == set(bad)


def test_a_payment_is_read_with_its_refunds(tenant, api, billed):
    invoice, _ = billed
    payment = offline(tenant, invoice)
    with tenant.context():
        refund = refunds.refund_create(payment=payment, amount=Decimal("15.50"),
                                        reason="Discount", actor="ana@acme.test")

    body = api.get(f"/api/v1/payments/{payment.id}").json()

    assert (body["status"], body["amount"], body["refunded_amount"]) == (
        "partially_refunded", "100.00", "15.50")
    # the 100.00 transfer paid all of the 100.00 invoice: nothing was kept as credit, so
    # the whole 15.50 comes back out of the invoice
    assert body["refunds"] == [{
        "id": str(refund.id), "payment": str(payment.id), "amount": "15.50",
        "from_credit": "0.00", "from_invoice": "15.50", "credit_note": None,
        "status": "succeeded", "failure_reason": "",
        "reason": "Discount", "reference": "", "initiated_by": "ana@acme.test",
        "created_at": body["refunds"][0]["created_at"]}]


# --- Refunds -----------------------------------------------------------------------------------


def test_partial_then_remaining_refund_of_an_offline_payment(tenant, api, billed):
    invoice, _ = billed
    payment = offline(tenant, invoice)
    url = f"/api/v1/payments/{payment.id}/refunds"

    partial = api.post(url, {"amount": "30.00", "reason": "Outage"}, format="json")
    # 100.00 paid - 30.00 refunded: the invoice owes 30.00 again
    assert partial.status_code == 201, partial.json()
    assert (partial.json()["amount"], partial.json()["reason"]) == ("30.00", "Outage")
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("70.00"), Decimal("30.00"))

    too_much = api.post(url, {"amount": "70.01"}, format="json")  # only 70.00 left
    assert too_much.status_code == 400
    assert "amount" in too_much.json()["error"]["fields"]

    rest = api.post(url, {"reason": "Churn"}, format="json")  # no amount: all that is left
    assert rest.json()["amount"] == "70.00"
    with tenant.context():
        payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", Decimal("100.00"))
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("0"), Decimal("100.00"))


def test_a_card_payment_is_refunded_through_the_gateway(tenant, api, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    charged = api.post(f"/api/v1/invoices/{invoice.id}/payments", {"method": "card"},
                       format="json").json()

    refund = api.post(f"/api/v1/payments/{charged['id']}/refunds",
                      {"amount": "100.00", "reason": "Cancelled"}, format="json")

    assert refund.status_code == 201, refund.json()
    assert refund.json()["reference"].startswith("re_")
    assert api.get(f"/api/v1/payments/{charged['id']}").json()["status"] == "refunded"


def test_a_failed_payment_is_not_refunded(tenant, api, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe, number=DECLINED)
    failed = api.post(f"/api/v1/invoices/{invoice.id}/payments", {"method": "card"},
                      format="json").json()

    response = api.post(f"/api/v1/payments/{failed['id']}/refunds", {"amount": "1.00"},
                        format="json")

    assert response.status_code == 400
    assert "payment" in response.json()["error"]["fields"]
    with tenant.context():
        assert Refund.objects.count() == 0


# --- Roles -------------------------------------------------------------------------------------


def test_a_viewer_reads_but_writes_nothing(tenant, billed, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    payment = offline(tenant, invoice, "60.00")
    viewer = tenant.client("viewer")
    writes = [
        ("post", f"/api/v1/invoices/{invoice.id}/payments", {"method": "cash"}),
        ("post", f"/api/v1/invoices/{invoice.id}/payments", {"method": "card"}),
        ("post", f"/api/v1/payments/{payment.id}/refunds", {"amount": "1.00"}),
        ("post", f"/api/v1/customers/{customer.id}/payment-methods/setup", {}),
        ("post", f"/api/v1/customers/{customer.id}/payment-methods", {"setup_intent": "x"}),
        ("put", "/api/v1/gateway", GATEWAY),
        ("post", "/api/v1/gateway/test", {}),
    ]

    for method, url, body in writes:
        response = getattr(viewer, method)(url, body, format="json")
        assert response.status_code == 403, url
        assert response.json()["error"]["type"] == "permission_denied"
    for url in ("/api/v1/payments", f"/api/v1/payments/{payment.id}", "/api/v1/gateway",
                f"/api/v1/customers/{customer.id}/payment-methods"):
        assert viewer.get(url).status_code == 200, url

    with tenant.context():
        assert list(Payment.objects.values_list("id", flat=True)) == [payment.id]
        assert Refund.objects.count() == 0
        assert PaymentMethod.objects.count() == 1  # the card saved above, nothing more
        account = GatewayAccount.objects.get(organization=tenant.organization)
    assert decrypt_json(account.encrypted_credentials)["webhook_secret"] == WEBHOOK_SECRET
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("60.00"), Decimal("40.00"))


# --- Tenant isolation --------------------------------------------------------------------------


@pytest.fixture
def theirs(other_tenant, localstripe):
    """Another organization's gateway, customer, card, invoice and a 50.00 payment on it."""
    with other_tenant.context():
        services.gateway_account_set(
            organization=other_tenant.organization, kind="stripe", secret_key=SECRET_KEY,
            publishable_key="pk_globex", webhook_secret="whsec_globex_secret")
    invoice, customer = bill(Scenario(other_tenant), "globex-customer")
    save_card(other_tenant, customer, localstripe)
    payment = offline(other_tenant, invoice, "50.00", "GLOBEX-1")
    return invoice, customer, payment


def test_another_organizations_ids_are_404_and_nothing_is_written(
    tenant, api, billed, other_tenant, theirs
):
    invoice, customer, payment = theirs
    calls = [
        ("get", f"/api/v1/customers/{customer.id}/payment-methods", None),
        ("post", f"/api/v1/customers/{customer.id}/payment-methods/setup", {}),
        ("post", f"/api/v1/customers/{customer.id}/payment-methods", {"setup_intent": "seti"}),
        ("get", f"/api/v1/payments/{payment.id}", None),
        ("post", f"/api/v1/payments/{payment.id}/refunds", {"amount": "10.00"}),
        ("post", f"/api/v1/invoices/{invoice.id}/payments",
         {"method": "cash", "amount": "10.00", "reference": "X"}),
        ("post", f"/api/v1/invoices/{invoice.id}/payments", {"method": "card"}),
        ("get", f"/api/v1/payments/{uuid.uuid4()}", None),
    ]

    for method, url, body in calls:
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 404, url
        assert response.json()["error"]["type"] == "not_found"
        assert str(customer.id) not in response.content.decode()

    with other_tenant.context():
        assert list(Payment.objects.values_list("id", flat=True)) == [payment.id]
        assert Refund.objects.count() == 0
        assert PaymentMethod.objects.count() == 1
        invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.amount_due) == (Decimal("50.00"), Decimal("50.00"))


def test_lists_and_the_gateway_are_the_callers_own(tenant, api, billed, other_tenant, theirs):
    invoice, customer, payment = theirs
    own = offline(tenant, billed[0], "10.00")

    listed = [row["id"] for row in api.get("/api/v1/payments").json()["results"]]
    by_their_customer = api.get("/api/v1/payments", {"customer": str(customer.id)}).json()
    by_their_invoice = api.get("/api/v1/payments", {"invoice": str(invoice.id)}).json()
    gateway = api.get("/api/v1/gateway").json()

    assert listed == [str(own.id)]
    assert by_their_customer["results"] == [] and by_their_invoice["results"] == []
    assert gateway["publishable_key"] == "pk_test_emulated"  # not pk_globex
    assert gateway["webhook_url"].endswith(str(tenant.organization.id))

    # Setting one's gateway never touches the other organization's.
    api.put("/api/v1/gateway", GATEWAY, format="json")
    with other_tenant.context():
        theirs_account = GatewayAccount.objects.get(organization=other_tenant.organization)
    assert theirs_account.publishable_key == "pk_globex"
    assert decrypt_json(theirs_account.encrypted_credentials)["webhook_secret"] == \
        "whsec_globex_secret"
