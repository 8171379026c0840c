"""The hosted checkout's fit and finish, through Django's test client against a real
localstripe: the receipt names the card it charged by its last four digits, the organization's
support address is on the page and the receipt, "Name on card" is the customer's to type, and
the favicon is linked. Plus the card's name as a person reads it, and the support address's
rules."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from invoicing import services as invoicing
from payments.models import Payment, card_label
from tests.support.checkout import billed_with_checkout, page_path, pay
from tests.support.payments import bill, collect_url, save_card
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

FAVICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
SUPPORT = ('<p data-testid="support-contact">Questions? '
           '<a href="mailto:billing@acme.test">billing@acme.test</a></p>')


@pytest.fixture
def billed(scenario, stripe_gateway):
    """A finalized January invoice of 100.00 (no tax: all of it due) and its checkout
    session."""
    return billed_with_checkout(scenario)


def test_the_receipt_names_the_card_by_its_last_four_digits(client, tenant, billed, localstripe):
    invoice, session = billed

    assert pay(client, localstripe, session).status_code == 200  # Visa 4242 4242 4242 4242

    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.card_brand, payment.card_last4) == ("succeeded", "visa",
                                                                         "4242")
    receipt = client.get(page_path(session, "checkout-done")).content.decode()
    assert '<div><dt>Paid by</dt><dd data-testid="paid-by">Visa •••• 4242</dd></div>' in receipt


def test_a_receipt_of_a_payment_without_a_known_card_says_card(client, tenant, billed,
                                                               localstripe):
    invoice, session = billed
    pay(client, localstripe, session)
    with tenant.context():  # a payment made before the card was kept on it
        Payment.objects.filter(invoice=invoice).update(card_brand="", card_last4="")

    receipt = client.get(page_path(session, "checkout-done")).content.decode()

    assert '<dd data-testid="paid-by">Card</dd>' in receipt


def test_a_card_charged_from_the_dashboard_is_kept_on_its_payment(client, tenant, scenario,
                                                                  stripe_gateway, localstripe,
                                                                  signed_in):
    invoice, customer = bill(scenario)
    save_card(tenant, customer, localstripe)
    signed_in(Role.FINANCE)

    client.post(f"{collect_url(invoice)}charge/", {"amount": ""})

    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.card_label) == ("succeeded", "Visa •••• 4242")
    detail = client.get(f"/payments/{payment.id}/").content.decode()
    assert "<dt>Method</dt><dd>Card · Visa •••• 4242</dd>" in detail


def test_the_support_address_is_on_the_page_and_the_receipt(client, billed, scenario,
                                                            localstripe):
    _, session = billed
    assert scenario.patch_settings(support_email="billing@acme.test")["support_email"] == \
        "billing@acme.test"

    page = client.get(page_path(session)).content.decode()
    pay(client, localstripe, session)
    receipt = client.get(page_path(session, "checkout-done")).content.decode()

    assert SUPPORT in page
    assert "Reply to the e-mail it came with" not in page
    assert SUPPORT in receipt


def test_without_a_support_address_the_page_says_to_reply_to_the_e_mail(client, billed):
    _, session = billed

    page = client.get(page_path(session)).content.decode()

    assert "<p>Questions about this invoice? Reply to the e-mail it came with.</p>" in page
    assert 'data-testid="support-contact"' not in page


@pytest.mark.parametrize(("value", "code"), [
    ("billing at acme", "invalid_email"),
    ("billing@acme.test, ap@acme.test", "invalid_email"),  # one address
    ("billing\x00@acme.test", "invalid_text"),
    ("b" * 245 + "@acme.test", "max_length"),  # 255 characters
])
def test_a_support_address_that_is_not_one_address_is_refused(tenant, value, code):
    with tenant.context():
        invoicing.invoice_settings_update(organization=tenant.organization,
                                          support_email="billing@acme.test")
        with pytest.raises(ValidationError) as refused:
            invoicing.invoice_settings_update(organization=tenant.organization,
                                              support_email=value)
        stored = invoicing.invoice_settings(organization=tenant.organization)
    assert {field: [e.code for e in errors] for field, errors in
            refused.value.error_dict.items()} == {"support_email": [code]}
    assert stored.support_email == "billing@acme.test"  # unchanged


def test_the_api_sets_trims_refuses_and_clears_the_support_address(scenario):
    assert scenario.patch_settings(support_email="  billing@acme.test ")["support_email"] == \
        "billing@acme.test"

    refused = scenario.client.patch("/api/v1/invoice-settings",
                                    {"support_email": "billing at acme"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["error"]["codes"] == {"support_email": ["invalid_email"]}
    assert scenario.get("invoice-settings")["support_email"] == "billing@acme.test"
    assert scenario.patch_settings(support_email="")["support_email"] == ""


def test_name_on_card_is_left_for_the_customer_to_type(client, billed):
    _, session = billed

    page = client.get(page_path(session)).content.decode()

    [cardholder] = re.findall(r'<input id="cardholder"[^>]*>', page)
    assert cardholder == ('<input id="cardholder" name="cardholder" autocomplete="cc-name" '
                          'placeholder="Full name, as on the card">')  # no value: no company name


def test_the_checkout_pages_link_the_favicon(client, billed, localstripe):
    _, session = billed

    page = client.get(page_path(session)).content.decode()
    pay(client, localstripe, session)
    receipt = client.get(page_path(session, "checkout-done")).content.decode()

    assert FAVICON in page and FAVICON in receipt


@pytest.mark.parametrize(("brand", "last4", "label"), [
    ("visa", "4242", "Visa •••• 4242"),
    ("Visa", "4242", "Visa •••• 4242"),  # localstripe's card objects say "Visa"
    ("mastercard", "4444", "Mastercard •••• 4444"),
    ("amex", "0005", "American Express •••• 0005"),
    ("cartes_bancaires", "1001", "Cartes bancaires •••• 1001"),  # a brand not in the table
    ("unknown", "1234", "Card •••• 1234"),
    ("", "1234", "Card •••• 1234"),
    ("visa", "", ""),  # no digits: nothing to show
])
def test_a_card_is_named_as_a_person_reads_it(brand, last4, label):
    assert card_label(brand, last4) == label
