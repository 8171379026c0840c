"""Dashboard pages for payments, through Django's test client: the list, one payment with its
refunds, and an invoice's "Collect" page (offline payment, card charge, payment link,
refund). Writers only write; a viewer gets a 403 and nothing changes; another organization's
ids are 404."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest

from payments import refunds
from payments.checkout import links as checkout
from payments.models import CheckoutSession, Payment, Refund
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.payments import (
    DECLINED,
    bill,
    collect_url,
    flashes,
    invoice_now,
    offline,
    save_card,
)
from tests.support.scenario import Scenario
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


# --- The list ----------------------------------------------------------------------------------


def test_the_list_shows_payments_with_status_tabs(client, tenant, billed, signed_in):
    invoice, customer = billed
    offline(tenant, invoice, "40.00")
    with tenant.context():
        Payment.objects.create(
            organization=tenant.organization, customer=customer, invoice=invoice,
            amount=Decimal("60.00"), currency="USD", method="card", status="failed",
            failure_reason="Your card was declined.", initiated_by="auto",
            idempotency_key="charge:test:1")
    signed_in(Role.VIEWER)

    html = client.get("/payments/").content.decode()
    failed = client.get("/payments/?status=failed").content.decode()

    assert html.count('data-testid="payment-row"') == 2
    for text in ("Acme", invoice.number, "$40.00", "$60.00", "Bank transfer", "Card",
                 "ana@acme.test", "auto", ">succeeded<", ">failed<", "Your card was declined."):
        assert text in html, text
    assert re.search(r'status=failed"[^>]*>Failed <span class="count">1</span>', html)
    assert re.search(r'All <span class="count">2</span>', html)
    assert failed.count('data-testid="payment-row"') == 1 and "$40.00" not in failed


def test_the_sidebar_and_the_home_tile_lead_to_the_payments_page(client, signed_in):
    signed_in(Role.VIEWER)
    home = client.get("/").content.decode()
    html = client.get("/payments/")

    assert 'href="/payments/"' in home
    assert html.status_code == 200
    assert '<a href="/payments/" class="active">Payments</a>' in html.content.decode()


def test_a_payment_page_shows_its_refunds(client, tenant, billed, signed_in):
    payment = offline(tenant, billed[0])
    with tenant.context():
        refunds.refund_create(payment=payment, amount=Decimal("12.50"), reason="Late delivery",
                               actor="ana@acme.test")
    signed_in(Role.VIEWER)

    html = client.get(f"/payments/{payment.id}/").content.decode()

    assert html.count('data-testid="refund-row"') == 1
    for text in ("$100.00", "$12.50", "Late delivery", "partially refunded", "TR-1",
                 "$87.50 left to refund"):  # 100.00 - 12.50
        assert text in html, text
    assert 'data-testid="refund-form"' not in html  # a viewer sees no form


# --- Collecting an invoice ---------------------------------------------------------------------


def test_the_collect_page_shows_what_is_due_the_cards_and_the_actions(
    client, tenant, billed, signed_in, localstripe
):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    signed_in()

    html = client.get(collect_url(invoice)).content.decode()

    assert re.search(r'data-testid="amount-due">\$100.00<', html)
    assert "Visa ···· 4242" in html and "default" in html
    for form in ("charge-form", "offline-form", "send-link-form"):
        assert f'data-testid="{form}"' in html, form
    assert "To ap@acme.test." in html


def test_a_finance_user_records_an_offline_payment(client, tenant, billed, signed_in):
    invoice, _ = billed
    user = signed_in()

    response = client.post(f"{collect_url(invoice)}offline/", {
        "method": "cheque", "amount": "40.00", "reference": "CHQ-12",
        "received_on": "2026-01-21"}, follow=True)

    assert response.redirect_chain[-1][0] == collect_url(invoice)
    assert flashes(response) == ["Recorded $40.00 by cheque."]
    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.method, payment.reference, payment.received_on,
            payment.initiated_by, payment.status) == (
        Decimal("40.00"), "cheque", "CHQ-12", date(2026, 1, 21), user.email, "succeeded")
    # 100.00 - 40.00 = 60.00 still due
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("40.00"), Decimal("60.00"))
    assert re.search(r'data-testid="amount-due">\$60.00<', response.content.decode())


@pytest.mark.parametrize(("form", "error"), [
    ({"method": "cash", "amount": "10.005", "received_on": "2026-01-21"},
     "At most 2 decimals in USD."),
    ({"method": "cash", "amount": "10.00", "received_on": ""}, "This field is required."),
    ({"method": "card", "amount": "10.00", "received_on": "2026-01-21"},
     "Select a valid choice."),
])
def test_a_bad_offline_payment_is_shown_on_its_field_and_not_recorded(
    client, tenant, billed, signed_in, form, error
):
    invoice, _ = billed
    signed_in()

    response = client.post(f"{collect_url(invoice)}offline/", form)

    assert response.status_code == 400
    assert error in unescape(response.content.decode())
    with tenant.context():
        assert not Payment.objects.filter(invoice=invoice).exists()


def test_the_default_card_is_charged_now(client, tenant, billed, signed_in, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    user = signed_in()

    response = client.post(f"{collect_url(invoice)}charge/", {"amount": ""}, follow=True)

    assert flashes(response) == ["Charged $100.00 to the saved card."]
    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.initiated_by) == ("succeeded", user.email)
    assert payment.reference.startswith("pi_")
    assert invoice_now(tenant, invoice) == ("paid", Decimal("100.00"), Decimal("0"))


def test_a_declined_charge_says_why(client, tenant, billed, signed_in, localstripe):
    invoice, customer = billed
    save_card(tenant, customer, localstripe, number=DECLINED)
    signed_in()

    response = client.post(f"{collect_url(invoice)}charge/", {"amount": "30.00"}, follow=True)

    assert flashes(response) == ["The charge of $30.00 failed: Your card was declined."]
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("0"), Decimal("100.00"))


def test_a_payment_link_is_e_mailed_to_the_billing_addresses(
    client, tenant, scenario, stripe_gateway, signed_in, mailoutbox
):
    invoice, _ = bill(scenario, emails=["ap@acme.test", "cfo@acme.test"])
    signed_in()

    response = client.post(f"{collect_url(invoice)}send-link/", follow=True)

    assert flashes(response) == ["Payment link sent to ap@acme.test, cfo@acme.test."]
    [message] = mailoutbox
    assert message.to == ["ap@acme.test", "cfo@acme.test"]
    assert message.subject == f"Pay invoice {invoice.number} from Acme"
    assert f"Invoice {invoice.number} from Acme has $100.00 left to pay." in message.body
    [url] = re.findall(r"https?://\S+", message.body)
    organization_id, session_id = checkout.read_token(url.rstrip("/").split("/")[-1])
    with tenant.context():
        session = CheckoutSession.objects.get(id=session_id)
    assert (organization_id, session.invoice_id, session.amount) == (
        str(tenant.organization.id), invoice.id, Decimal("100.00"))


def test_no_link_is_sent_without_an_address_or_an_amount_due(
    client, tenant, scenario, stripe_gateway, signed_in, mailoutbox
):
    invoice, _ = bill(scenario, emails=[])
    signed_in()

    no_address = client.post(f"{collect_url(invoice)}send-link/", follow=True)
    offline(tenant, invoice)  # paid in full
    nothing_due = client.post(f"{collect_url(invoice)}send-link/", follow=True)

    assert flashes(no_address) == ["Acme has no billing e-mail address."]
    assert flashes(nothing_due) == ["Nothing is due on this invoice: no link was sent."]
    assert mailoutbox == []


# --- Refunds -----------------------------------------------------------------------------------


def test_a_refund_from_the_collect_page(client, tenant, billed, signed_in):
    invoice, _ = billed
    payment = offline(tenant, invoice)
    user = signed_in()
    html = client.get(collect_url(invoice)).content.decode()
    assert f'action="/payments/{payment.id}/refund/"' in html

    response = client.post(f"/payments/{payment.id}/refund/", {
        "amount": "30.00", "reason": "Outage", "next": collect_url(invoice)}, follow=True)

    assert response.redirect_chain[-1][0] == collect_url(invoice)
    assert flashes(response) == ["Refunded $30.00."]
    with tenant.context():
        refund = Refund.objects.get(payment=payment)
        payment.refresh_from_db()
    assert (refund.amount, refund.reason, refund.initiated_by) == (
        Decimal("30.00"), "Outage", user.email)
    assert (payment.status, payment.refunded_amount) == ("partially_refunded",
                                                         Decimal("30.00"))
    # 100.00 paid, 30.00 refunded: 30.00 due again
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("70.00"), Decimal("30.00"))


def test_a_refund_beyond_what_is_left_is_refused(client, tenant, billed, signed_in):
    payment = offline(tenant, billed[0], "50.00")
    signed_in()

    response = client.post(f"/payments/{payment.id}/refund/",
                           {"amount": "50.01", "reason": "Too much"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/payments/{payment.id}/"
    [flash] = flashes(response)
    # the service words it (and prints 50.0000: its message is not currency-formatted)
    assert flash.startswith("No refund: Must be more than 0 and at most 50.00")
    with tenant.context():
        assert not Refund.objects.filter(payment=payment).exists()


def test_a_refund_never_redirects_off_site(client, tenant, billed, signed_in):
    payment = offline(tenant, billed[0])
    signed_in()

    response = client.post(f"/payments/{payment.id}/refund/", {
        "amount": "1.00", "reason": "x", "next": "https://evil.example/"})

    assert response.headers["Location"] == f"/payments/{payment.id}/"


# --- Roles -------------------------------------------------------------------------------------


def test_a_viewer_can_neither_record_nor_refund(client, tenant, billed, signed_in, localstripe,
                                                mailoutbox):
    invoice, customer = billed
    save_card(tenant, customer, localstripe)
    payment = offline(tenant, invoice, "60.00")
    signed_in(Role.VIEWER)

    html = client.get(collect_url(invoice)).content.decode()
    posts = [
        (f"{collect_url(invoice)}offline/", {"method": "cash", "amount": "10.00",
                                            "received_on": "2026-01-21"}),
        (f"{collect_url(invoice)}charge/", {}),
        (f"{collect_url(invoice)}send-link/", {}),
        (f"/payments/{payment.id}/refund/", {"amount": "10.00", "reason": "x"}),
    ]

    for form in ("charge-form", "offline-form", "send-link-form", "refund-form"):
        assert f'data-testid="{form}"' not in html, form
    for url, form in posts:
        assert client.post(url, form).status_code == 403, url
    with tenant.context():
        assert list(Payment.objects.values_list("id", flat=True)) == [payment.id]
        assert not Refund.objects.exists()
        assert not CheckoutSession.objects.exists()
    assert mailoutbox == []
    assert invoice_now(tenant, invoice) == ("finalized", Decimal("60.00"), Decimal("40.00"))


# --- Tenant isolation --------------------------------------------------------------------------


def test_another_organizations_invoices_and_payments_are_404_and_untouched(
    client, tenant, billed, other_tenant, signed_in, mailoutbox
):
    own = offline(tenant, billed[0], "10.00")
    their_invoice, _ = bill(Scenario(other_tenant), "globex-customer")
    theirs = offline(other_tenant, their_invoice, "50.00", "GLOBEX-1")
    signed_in()

    listed = client.get("/payments/").content.decode()
    gets = [collect_url(their_invoice), f"/payments/{theirs.id}/"]
    posts = [
        (f"{collect_url(their_invoice)}offline/", {"method": "cash", "amount": "10.00",
                                                  "received_on": "2026-01-21"}),
        (f"{collect_url(their_invoice)}charge/", {}),
        (f"{collect_url(their_invoice)}send-link/", {}),
        (f"/payments/{theirs.id}/refund/", {"amount": "10.00", "reason": "x"}),
    ]

    assert f"/payments/{own.id}/" in listed and f"/payments/{theirs.id}/" not in listed
    assert "Globex" not in listed
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url, form in posts:
        assert client.post(url, form).status_code == 404, url
    with other_tenant.context():
        assert list(Payment.objects.values_list("id", flat=True)) == [theirs.id]
        assert not Refund.objects.exists()
        assert not CheckoutSession.objects.exists()
    assert mailoutbox == []
    assert invoice_now(other_tenant, their_invoice) == (
        "finalized", Decimal("50.00"), Decimal("50.00"))


# --- In a real browser -------------------------------------------------------------------------


@pytest.mark.browser
@COMMITTING
def test_in_a_browser_finance_records_a_transfer_then_refunds_part_of_it(
    live_server, page, tenant, scenario, stripe_gateway, localstripe, make_user, artifacts,  # noqa: F811
):
    from playwright.sync_api import expect

    invoice, customer = bill(scenario)
    save_card(tenant, customer, localstripe)
    sign_in(page, live_server.url, tenant.organization, make_user)

    page.goto(f"{live_server.url}{collect_url(invoice)}")
    expect(page.get_by_test_id("amount-due")).to_have_text("$100.00")
    page.screenshot(path=str(artifacts / "payments-collect.png"), full_page=True)
    page.select_option("#offline-method", "bank_transfer")
    page.fill("#offline-amount", "40.00")
    page.fill("#offline-reference", "TR-2026-001")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_have_text("Recorded $40.00 by bank transfer.")
    expect(page.get_by_test_id("amount-due")).to_have_text("$60.00")  # 100.00 - 40.00

    page.locator("details.refund summary").click()
    page.locator("details.refund input[name=amount]").fill("15.00")
    page.locator("details.refund input[name=reason]").fill("Service credit")
    page.locator("details.refund").get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_have_text("Refunded $15.00.")
    expect(page.get_by_test_id("amount-due")).to_have_text("$75.00")  # 60.00 + 15.00
    page.screenshot(path=str(artifacts / "payments-collect-after.png"), full_page=True)

    page.locator("nav").get_by_role("link", name="Payments").click()
    expect(page.get_by_test_id("payment-row")).to_have_count(1)
    expect(page.get_by_test_id("payment-status")).to_have_text("partially refunded")
    page.screenshot(path=str(artifacts / "payments-list.png"), full_page=True)
    page.get_by_test_id("payment-row").get_by_role("link").first.click()
    expect(page.get_by_test_id("refund-row")).to_have_count(1)
    page.screenshot(path=str(artifacts / "payments-detail.png"), full_page=True)
    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.refunded_amount, payment.reference) == (
        Decimal("40.00"), Decimal("15.00"), "TR-2026-001")
