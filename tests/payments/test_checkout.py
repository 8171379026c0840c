"""The hosted checkout pages through Django's test client, against a real localstripe: what
the page shows, paying once and only once, declines, and links that lead nowhere.

The browser's part (Stripe.js confirming the SetupIntent) is played by the Stripe library
confirming the same SetupIntent with the same card details, as ``save_card`` does."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from invoicing import services as invoicing
from payments import services
from payments.checkout import links as checkout
from payments.models import CheckoutSession, Payment, PaymentMethod
from tests.support.checkout import (
    billed_with_checkout,
    card_form,
    confirm_in_browser,
    page_path,
    pay,
    post_confirm,
)
from tests.support.factories import CustomerFactory
from tests.support.payments import DECLINED, GOOD, stripe_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(scenario, stripe_gateway):
    """A finalized January invoice of 100.00 (a flat platform fee, billed in advance; a US
    customer with no tax rate: subtotal 100.00 + tax 0.00 = total 100.00, all of it due), and
    its checkout session."""
    return billed_with_checkout(scenario)


def test_the_page_shows_who_is_owed_what_and_why(client, tenant, billed, scenario, localstripe):
    invoice, session = billed
    scenario.patch_settings(address="Acme Inc.\n1 Market St\nSan Francisco, CA 94105",
                            logo_url="data:image/png;base64,iVBORw0KGgo=")

    response = client.get(page_path(session))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<title>Invoice {invoice.number} · Acme</title>" in html
    assert '<img class="merchant-logo" src="data:image/png;base64,iVBORw0KGgo="' in html
    assert "Acme Inc., 1 Market St, San Francisco, CA 94105" in html
    assert f"Invoice {invoice.number}" in html
    # one line: the platform fee for January (periods are half-open: [Jan 1, Feb 1))
    with tenant.context():
        [line] = invoice.lines.all()
    assert re.findall(r'<span class="line-desc">(.*?)</span>', html) == [line.description]
    assert "Jan 1\u2009–\u2009Feb 1, 2026" in html  # CLDR's interval, as on the PDF
    assert '<dd data-testid="total">$100.00</dd>' in html
    assert '<dd data-testid="amount-due">$100.00</dd>' in html
    assert "Pay $100.00" in html
    assert f"Due {invoice.due_date:%B} {invoice.due_date.day}, {invoice.due_date.year}" in html
    assert page_path(session, "checkout-pdf") in html
    # Stripe.js is the one foreign script, and it comes from the gateway (here the emulator).
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == [f"{localstripe}/js.stripe.com/v3/", "/static/js/checkout.js"]
    policy = response["Content-Security-Policy"]
    assert f"script-src 'self' {localstripe};" in policy
    assert f"connect-src 'self' {localstripe};" in policy
    assert response["Cache-Control"] == "no-store"
    assert card_form(response)["publishable_key"] == "pk_test_emulated"


def test_the_invoice_pdf_downloads_from_the_page(client, billed):
    _, session = billed
    response = client.get(page_path(session, "checkout-pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_paying_by_card_pays_the_invoice_and_shows_the_receipt(client, tenant, billed,
                                                               localstripe):
    invoice, session = billed

    response = pay(client, localstripe, session)

    assert response.status_code == 200
    assert response.json() == {"status": "succeeded",
                               "redirect": page_path(session, "checkout-done")}
    with tenant.context():
        invoice.refresh_from_db()
        session.refresh_from_db()
        payment = Payment.objects.get(invoice=invoice)
        card = PaymentMethod.objects.get(customer=invoice.customer)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "paid", Decimal("100.00"), Decimal("0"))
    assert (payment.status, payment.amount, payment.method, payment.initiated_by) == (
        "succeeded", Decimal("100.00"), "card", "customer")
    assert payment.reference.startswith("pi_")
    assert (session.status, session.payment_id) == ("complete", payment.id)
    assert (card.last4, card.is_default) == ("4242", True)  # kept for future invoices

    done = client.get(page_path(session, "checkout-done")).content.decode()
    assert '<strong data-testid="amount-paid">$100.00</strong>' in done
    assert '<span class="badge paid" data-testid="invoice-status">Paid</span>' in done
    assert payment.reference in done


def test_confirming_twice_charges_once(client, tenant, billed, localstripe):
    invoice, session = billed
    form = card_form(client.get(page_path(session)))
    other_tab = card_form(client.get(page_path(session)))  # the page open twice: one intent
    confirm_in_browser(localstripe, form, GOOD)

    first = post_confirm(client, session, form)
    again = post_confirm(client, session, form)  # a double click, a retried request
    late = post_confirm(client, session, other_tab)  # the other tab, after the payment

    assert other_tab["setup_intent"] == form["setup_intent"]
    assert (first.status_code, again.status_code, late.status_code) == (200, 200, 200)
    assert first.json() == again.json() == late.json()  # the one attempt, told again
    with tenant.context():
        assert Payment.objects.filter(customer=invoice.customer).count() == 1
        invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("100.00")
    gateway_customer = _gateway_customer(tenant, invoice)
    intents = stripe_client(localstripe).v1.payment_intents.list(params={"limit": 100})
    charged = [pi.amount for pi in intents.auto_paging_iter() if pi.customer == gateway_customer]
    assert charged == [10000]  # 100.00 USD in cents, once


def _gateway_customer(tenant, invoice):
    with tenant.context():
        return services.gateway_customer_id(customer=invoice.customer)


def test_a_declined_card_shows_why_and_another_card_can_pay(client, tenant, billed,
                                                            localstripe):
    invoice, session = billed

    declined = pay(client, localstripe, session, number=DECLINED)

    assert declined.status_code == 402
    body = declined.json()
    assert (body["status"], body["message"]) == ("failed", "Your card was declined.")
    with tenant.context():
        invoice.refresh_from_db()
        session.refresh_from_db()
        failed = Payment.objects.get(invoice=invoice)
        declined_card = PaymentMethod.objects.get(customer=invoice.customer)
    assert (invoice.status, invoice.amount_due) == ("finalized", Decimal("100.00"))
    assert session.status == "open"
    assert (failed.status, failed.failure_reason) == ("failed", "Your card was declined.")
    assert not declined_card.is_default  # auto-collection will not retry a declined card
    # The page shows the form again with the reason: a fresh SetupIntent for the next card,
    # the same one a reload of the page shows.
    retry = body["form"]
    assert retry["setup_intent"] == card_form(client.get(page_path(session)))["setup_intent"]
    confirm_in_browser(localstripe, retry, GOOD)
    assert post_confirm(client, session, retry).status_code == 200
    with tenant.context():
        invoice.refresh_from_db()
        assert sorted(Payment.objects.filter(invoice=invoice).values_list("status", "attempt")) \
            == [("failed", 1), ("succeeded", 2)]
    assert (invoice.status, invoice.amount_due) == ("paid", Decimal("0"))


def test_an_invoice_paid_meanwhile_shows_paid_and_takes_no_money(client, tenant, billed,
                                                                 localstripe):
    invoice, session = billed
    form = card_form(client.get(page_path(session)))  # the page was open in a tab...
    with tenant.context():  # ...while the customer's bank transfer arrived
        services.payment_record_offline(invoice=invoice, amount=Decimal("100.00"),
                                        method="bank_transfer", reference="TR-7",
                                        received_on=None, actor="ana@acme.test")

    page = client.get(page_path(session))
    confirm_in_browser(localstripe, form, GOOD)
    late = post_confirm(client, session, form)

    html = page.content.decode()
    assert page.status_code == 200
    assert '<span class="badge paid">Paid</span>' in html
    assert "This invoice is paid" in html
    assert 'id="payment-form"' not in html and "js.stripe.com" not in html
    assert late.status_code == 409
    assert late.json()["message"] == "Nothing is due on this invoice."
    with tenant.context():
        assert list(Payment.objects.filter(invoice=invoice).values_list("method", flat=True)) \
            == ["bank_transfer"]


def test_a_tampered_link_shows_a_friendly_page(client, billed):
    _, session = billed
    token = checkout.signed_token(session)
    i = len(token) // 2
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]

    response = client.get(reverse("payments:checkout", args=[tampered]))
    confirm = client.post(reverse("payments:checkout-confirm", args=[tampered]), {},
                          content_type="application/json")

    assert response.status_code == 404
    assert "This payment link is not valid" in response.content.decode()
    assert "No payment was taken." in response.content.decode()
    assert confirm.status_code == 404
    assert confirm.json()["status"] == "unavailable"


def test_an_old_link_has_expired(client, billed, monkeypatch):
    _, session = billed
    # A link signed 32 days ago (links are read for LINK_DAYS + 1 = 31 days).
    signed_at = time.time() - timedelta(days=checkout.LINK_DAYS + 2).total_seconds()
    monkeypatch.setattr(signing.time, "time", lambda: signed_at)
    token = checkout.signed_token(session)
    monkeypatch.undo()

    response = client.get(reverse("payments:checkout", args=[token]))

    assert response.status_code == 410
    assert "This payment link has expired" in response.content.decode()


def test_a_session_past_its_expiry_is_gone(client, tenant, billed):
    _, session = billed
    with tenant.context():
        CheckoutSession.objects.filter(pk=session.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1))

    response = client.get(page_path(session))

    assert response.status_code == 410
    assert "Ask Acme for a new payment link." in response.content.decode()


def test_another_organizations_session_is_not_found_through_a_link_of_mine(
        client, tenant, other_tenant, billed):
    """A validly signed token naming organization A with organization B's session id."""
    customer = CustomerFactory(organization=other_tenant.organization, name="Globex buyer")
    with other_tenant.context():
        theirs = checkout.checkout_for_prepaid(customer=customer, amount=Decimal("50.00"),
                                               description="Credit")
    token = signing.dumps({"o": str(tenant.organization.id), "s": str(theirs.id)},
                          salt=checkout.SALT, compress=True)

    response = client.get(reverse("payments:checkout", args=[token]))

    assert response.status_code == 404
    assert "Globex" not in response.content.decode()
    assert client.get(reverse("payments:checkout-pdf", args=[token])).status_code == 404
    # An organization that no longer exists: the same friendly page.
    gone = signing.dumps({"o": str(uuid.uuid4()), "s": str(theirs.id)}, salt=checkout.SALT,
                         compress=True)
    assert client.get(reverse("payments:checkout", args=[gone])).status_code == 404


def test_a_manual_gateway_page_says_how_to_pay(client, tenant, billed, scenario):
    invoice, session = billed
    with tenant.context():
        services.gateway_account_set(organization=tenant.organization, kind="manual")
    scenario.patch_settings(footer="Bank: First Bank\nIBAN: US00 1234 5678 9012")

    response = client.get(page_path(session))

    html = response.content.decode()
    assert response.status_code == 200
    assert "How to pay" in html
    assert f'quote <strong class="nowrap">{invoice.number}</strong>' in html
    assert "Bank: First Bank<br>IBAN: US00 1234 5678 9012" in html
    assert 'id="payment-form"' not in html and "<script src" not in html
    assert "script-src 'self';" in response["Content-Security-Policy"]


def test_cancel_and_success_addresses(client, tenant, billed, localstripe):
    invoice, _ = billed
    with tenant.context():
        session = checkout.checkout_for_invoice(
            invoice=invoice, success_url="https://shop.acme.test/paid?s={CHECKOUT_SESSION_ID}",
            cancel_url="https://shop.acme.test/billing")

    page = client.get(page_path(session)).content.decode()
    paid = pay(client, localstripe, session)

    assert '<a href="https://shop.acme.test/billing">Cancel and return to Acme</a>' in page
    assert paid.json()["redirect"] == f"https://shop.acme.test/paid?s={session.id}"


def test_a_prepaid_purchase_becomes_customer_credit(client, tenant, billed, localstripe):
    invoice, _ = billed
    with tenant.context():
        session = checkout.checkout_for_prepaid(customer=invoice.customer,
                                                amount=Decimal("250.00"),
                                                description="API credits")
    page = client.get(page_path(session)).content.decode()
    assert '<span data-testid="amount">$250.00</span>' in page

    assert pay(client, localstripe, session).status_code == 200

    with tenant.context():
        payment = Payment.objects.get(customer=invoice.customer, invoice=None)
        balance = invoicing.customer_credit_balance(customer=invoice.customer, currency="USD")
        invoice.refresh_from_db()
    assert (payment.status, payment.amount) == ("succeeded", Decimal("250.00"))
    assert balance == Decimal("250.00")
    assert invoice.amount_due == Decimal("100.00")  # the invoice is not what was bought
    done = client.get(page_path(session, "checkout-done")).content.decode()
    assert "$250.00 has been added to your account" in done
