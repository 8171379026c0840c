"""Money after the invoice in the dashboard, through Django's test client and in a real
browser: the invoice page's reconciled amounts and credit notes (with their PDFs), the credit
notes list, the customer page's balance with "Grant credit", the confirmation before an
overpayment is recorded, and the refund dialog saying where the money comes from.

Amounts worked out by hand beside each assertion."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest

from invoicing.models import CreditGrant
from payments.models import Payment, Refund
from tests.support import COMMITTING, PASSWORD
from tests.support.browser import sign_in
from tests.support.payments import bill, collect_url, flashes, invoice_now, offline

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


# --- The invoice page and the credit notes -----------------------------------------------------


def test_the_invoice_page_shows_where_the_total_went_and_its_credit_notes(
    client, scenario, tenant, billed, signed_in
):
    invoice, _ = billed
    line = scenario.invoice(str(invoice.id))["lines"][0]["id"]
    note = scenario.post(f"invoices/{invoice.id}/credit-notes", {
        "reason": "Outage", "lines": [{"line": line, "amount": "15.00"}]})
    payment = offline(tenant, invoice, "85.00")
    with tenant.context():
        from payments import refunds

        refunds.refund_create(payment=payment, amount=Decimal("5.00"), reason="Fee",
                               actor="ana@acme.test")
    signed_in()

    html = client.get(f"/invoices/{invoice.id}/").content.decode()

    # 100.00 - 15.00 credited - 85.00 paid + 5.00 refunded = 5.00 due
    for testid, amount in (("invoice-total", r"\$100\.00"), ("amount-credited", r"−\$15\.00"),
                           ("amount-paid", r"−\$85\.00"), ("amount-refunded", r"\+\$5\.00"),
                           ("amount-due", r"\$5\.00")):
        assert re.search(rf'data-testid="{testid}">{amount}<', html), testid
    assert f'href="/invoices/credit-notes/{note["id"]}/pdf/"' in html
    pdf = client.get(f"/invoices/credit-notes/{note['id']}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = text(client.get("/invoices/credit-notes/"))
    assert f"{note['number']} " in listed and "$15.00 off the amount due" in listed


def test_the_credit_note_form_sends_the_money_where_the_user_says(
    client, scenario, tenant, billed, signed_in
):
    invoice, _ = billed
    offline(tenant, invoice, "100.00")
    signed_in()
    line = scenario.invoice(str(invoice.id))["lines"][0]["id"]

    response = client.post(f"/invoices/{invoice.id}/credit-notes/", {
        "reason": "Refund the outage", "scope": "lines", f"line_{line}": "20.00",
        "destination": "refund"}, follow=True)

    assert flashes(response)[0].endswith("of $20.00 issued.")
    with tenant.context():
        [refund] = Refund.objects.all()
    assert (refund.amount, refund.from_invoice, refund.status) == (
        Decimal("20.00"), Decimal("20.00"), "succeeded")  # an offline payment: recorded
    assert "$20.00 refunded to the payment" in text(response)


def test_another_organizations_credit_note_pdf_is_404(client, scenario, billed, other_tenant,
                                                      make_user):
    from zenskar.tenancy.services import membership_upsert

    invoice, _ = billed
    note = scenario.post(f"invoices/{invoice.id}/credit-notes", {"reason": "Outage"})
    user = make_user("globex@globex.test")
    membership_upsert(organization=other_tenant.organization, email=user.email,
                      role="finance", actor_role=None)
    client.login(username=user.email, password=PASSWORD)

    assert client.get(f"/invoices/credit-notes/{note['id']}/pdf/").status_code == 404
    assert note["number"] not in client.get("/invoices/credit-notes/").content.decode()


# --- The customer's balance --------------------------------------------------------------------


def test_the_customer_page_shows_the_balance_and_grants_credit(client, tenant, billed,
                                                               signed_in):
    invoice, customer = billed
    offline(tenant, invoice, "40.00")  # 60.00 still due
    signed_in()

    response = client.post(f"/invoices/customers/{customer.id}/credit-grants/", {
        "amount": "25.00", "currency": "USD", "reason": "Goodwill",
        "usable_through": "2099-12-31"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/customers/{customer.id}/#balance"
    assert flashes(response) == ["Granted $25.00 of credit to Acme."]
    html = response.content.decode()
    assert re.search(r'data-testid="credit-balance">\$25\.00<', html)
    assert re.search(r'data-testid="open-due">\$60\.00<', html)  # 100.00 - 40.00
    assert "Goodwill" in text(response) and "2100-01-01" in html  # the end of 2099-12-31 UTC
    with tenant.context():
        [lot] = CreditGrant.objects.all()
    assert (lot.amount, lot.remaining, lot.granted_by) == (
        Decimal("25.00"), Decimal("25.00"), "finance@acme.test")


def test_a_bad_grant_says_why_and_grants_nothing(client, tenant, billed, signed_in):
    _, customer = billed
    signed_in()

    response = client.post(f"/invoices/customers/{customer.id}/credit-grants/", {
        "amount": "25.005", "currency": "USD", "reason": "Goodwill"}, follow=True)

    assert flashes(response) == ["No credit was granted. amount: At most 2 decimals in USD."]
    with tenant.context():
        assert not CreditGrant.objects.exists()


def test_a_viewer_sees_the_balance_but_cannot_grant(client, tenant, billed, signed_in):
    _, customer = billed
    signed_in("viewer")

    page = client.get(f"/customers/{customer.id}/").content.decode()
    response = client.post(f"/invoices/customers/{customer.id}/credit-grants/", {
        "amount": "25.00", "currency": "USD", "reason": "Goodwill"})

    assert 'data-testid="customer-balance"' in page
    assert 'data-testid="grant-credit-form"' not in page
    assert response.status_code == 403
    with tenant.context():
        assert not CreditGrant.objects.exists()


# --- Overpayments and refunds ------------------------------------------------------------------


def test_an_overpayment_is_confirmed_before_it_is_recorded(client, tenant, billed, signed_in):
    invoice, _ = billed
    signed_in()
    typed = {"method": "bank_transfer", "amount": "150.00", "reference": "TR-9",
             "received_on": "2026-01-21"}

    asked = client.post(f"{collect_url(invoice)}offline/", typed)

    assert asked.status_code == 200
    assert 'data-testid="confirm-excess"' in asked.content.decode()
    # 150.00 against 100.00 due: 50.00 more than is owed
    assert "$50.00 is more than this invoice owes" in text(asked)
    with tenant.context():
        assert not Payment.objects.exists()  # nothing yet
    confirmed = client.post(f"{collect_url(invoice)}offline/",
                            {**typed, "keep_excess_as_credit": "on"}, follow=True)

    assert flashes(confirmed) == ["Recorded $150.00 by bank transfer; $50.00 kept as the "
                                  "customer's credit."]
    assert invoice_now(tenant, invoice) == ("paid", Decimal("100.00"), Decimal("0"))


def test_the_refund_dialog_says_where_the_money_comes_from(client, tenant, billed, signed_in):
    invoice, _ = billed
    with tenant.context():
        from payments import services

        payment = services.payment_record_offline(
            invoice=invoice, amount=Decimal("150.00"), method="bank_transfer",
            reference="TR-9", received_on=None, actor="ana@acme.test",
            keep_excess_as_credit=True)
    signed_in()

    html = client.get(collect_url(invoice)).content.decode()

    assert re.search(r'data-testid="refund-from-credit">\$50\.00<', html)
    assert re.search(r'data-testid="refund-from-invoice">\$100\.00<', html)
    response = client.post(f"/payments/{payment.id}/refund/", {
        "amount": "50.00", "reason": "Overpaid", "take_from": "credit",
        "next": collect_url(invoice)}, follow=True)
    assert flashes(response) == ["Refunded $50.00."]
    # the excess went back: the invoice stays paid
    assert invoice_now(tenant, invoice) == ("paid", Decimal("100.00"), Decimal("0"))


@pytest.mark.browser
@COMMITTING
def test_in_a_browser_finance_confirms_an_overpayment_then_refunds_the_excess(
    live_server, page, tenant, scenario, stripe_gateway, make_user, artifacts,
):
    from playwright.sync_api import expect

    invoice, customer = bill(scenario)
    sign_in(page, live_server.url, tenant.organization, make_user)

    page.goto(f"{live_server.url}{collect_url(invoice)}")
    expect(page.get_by_test_id("amount-due")).to_have_text("$100.00")
    page.select_option("#offline-method", "bank_transfer")
    page.fill("#offline-amount", "150.00")
    page.fill("#offline-reference", "TR-2026-150")
    page.get_by_role("button", name="Record payment").click()

    dialog = page.get_by_test_id("confirm-excess")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("excess")).to_have_text("$50.00")  # 150.00 - 100.00
    page.screenshot(path=str(artifacts / "payments-overpayment-confirm.png"), full_page=True)
    dialog.get_by_role("button", name="Record $150.00 and keep $50.00 as credit").click()
    expect(page.get_by_role("status")).to_have_text(
        "Recorded $150.00 by bank transfer; $50.00 kept as the customer's credit.")
    expect(page.get_by_test_id("amount-due")).to_have_text("$0.00")

    page.locator("details.refund summary").click()
    refund = page.locator("details.refund")
    expect(refund.get_by_test_id("refund-from-credit")).to_have_text("$50.00")
    expect(refund.get_by_test_id("refund-from-invoice")).to_have_text("$100.00")
    refund.locator("input[name=amount]").fill("50.00")
    refund.locator("select[name=take_from]").select_option("credit")
    refund.locator("input[name=reason]").fill("Overpaid by mistake")
    page.screenshot(path=str(artifacts / "payments-refund-excess.png"), full_page=True)
    refund.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_have_text("Refunded $50.00.")
    expect(page.get_by_test_id("amount-due")).to_have_text("$0.00")  # still paid

    page.goto(f"{live_server.url}/customers/{customer.id}/")
    expect(page.get_by_test_id("credit-balance")).to_have_text("$0.00")  # 50.00 - 50.00
    expect(page.get_by_test_id("credit-movement")).to_have_count(2)  # kept, then refunded
    page.screenshot(path=str(artifacts / "customer-balance.png"), full_page=True)
    with tenant.context():
        payment = Payment.objects.get(invoice=invoice)
        [back] = Refund.objects.filter(payment=payment)
    assert (payment.amount, payment.applied_amount, payment.refunded_amount) == (
        Decimal("150.00"), Decimal("100.00"), Decimal("50.00"))
    assert (back.from_credit, back.from_invoice) == (Decimal("50.00"), Decimal("0"))
