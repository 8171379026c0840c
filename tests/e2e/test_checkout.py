"""A tenant's customer opens an invoice's hosted payment link in a real browser and pays it
by card: Stripe.js (here localstripe's, served by the emulator) confirms the card, our server
charges it, and the invoice is paid in the API."""

import re

import pytest
from playwright.sync_api import expect

from tests.support import COMMITTING

pytestmark = [pytest.mark.browser, COMMITTING]


LOGO = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
        "2mNkaPhfDwAEBQH/qHQmpwAAAABJRU5ErkJggg==")  # a 1 x 1 PNG: logos are raster images


@pytest.fixture
def invoice_link(scenario, stripe_gateway, live_server, settings):
    """A finalized January invoice: platform fee 1,000.00 + 20 seats x 15.00 = 1,300.00 (a US
    customer, no tax), and its hosted link from the API."""
    settings.PUBLIC_URL = live_server.url
    scenario.patch_settings(logo_url=LOGO, address="Acme Inc.\n1 Market St, San Francisco")
    scenario.customer("initech", name="Initech")
    scenario.product("PLATFORM")
    scenario.product("SEATS")
    contract = scenario.contract(customer="initech", items=[
        {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "1000.00"}},
        {"product": "SEATS", "model": "per_unit", "quantity": 20,
         "pricing": {"unit_price": "15.00"}},
    ])
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    assert (invoice["status"], invoice["total"]) == ("finalized", "1300.00")
    session = scenario.post("checkout-sessions", {"invoice": invoice["id"]})
    assert session["url"].startswith(f"{live_server.url}/pay/")
    return invoice, session["url"]


def fill_card(page, number):
    """The card field as the emulator's Stripe.js draws it (the number without spaces)."""
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("94105")


def test_a_customer_pays_an_invoice_by_card(page, invoice_link, scenario, artifacts):
    invoice, url = invoice_link
    page.goto(url)

    expect(page.get_by_test_id("amount")).to_have_text("$1,300.00")
    expect(page.get_by_test_id("total")).to_have_text("$1,300.00")
    expect(page.get_by_test_id("line")).to_have_count(2)
    expect(page.get_by_role("link", name="Download invoice (PDF)")).to_be_visible()
    pay = page.get_by_role("button", name="Pay $1,300.00")
    expect(pay).to_be_enabled()  # Stripe.js loaded and mounted the card field
    fill_card(page, "4242424242424242")
    page.screenshot(path=str(artifacts / "checkout-page.png"), full_page=True)

    pay.click()

    page.wait_for_url(re.compile(r"/pay/[^/]+/done$"))
    expect(page.get_by_role("heading", name="Payment successful")).to_be_visible()
    expect(page.get_by_test_id("amount-paid")).to_have_text("$1,300.00")
    expect(page.get_by_test_id("invoice-status")).to_have_text("Paid")
    page.screenshot(path=str(artifacts / "checkout-success.png"), full_page=True)
    paid = scenario.invoice(invoice["id"])
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == (
        "paid", "1300.00", "0.00")

    page.goto(url)  # the link again: paid, and no card form
    expect(page.get_by_test_id("paid-state")).to_contain_text("This invoice is paid")
    expect(page.locator("#payment-form")).to_have_count(0)
    page.screenshot(path=str(artifacts / "checkout-paid.png"), full_page=True)


def test_a_declined_card_says_so_and_the_invoice_stays_unpaid(page, invoice_link, scenario,
                                                              artifacts):
    invoice, url = invoice_link
    page.goto(url)
    pay = page.get_by_role("button", name="Pay $1,300.00")
    expect(pay).to_be_enabled()
    fill_card(page, "4000000000000341")

    pay.click()

    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(pay).to_be_enabled()  # the form again, for another card
    page.screenshot(path=str(artifacts / "checkout-declined.png"), full_page=True)
    unpaid = scenario.invoice(invoice["id"])
    assert (unpaid["status"], unpaid["amount_due"]) == ("finalized", "1300.00")

    fill_card(page, "4242424242424242")
    pay.click()
    page.wait_for_url(re.compile(r"/pay/[^/]+/done$"))
    assert scenario.invoice(invoice["id"])["status"] == "paid"


def test_a_tampered_link_shows_the_error_page(page, invoice_link, artifacts):
    _, url = invoice_link
    token = url.rstrip("/").rsplit("/", 1)[1]
    i = len(token) // 2
    tampered = url.replace(token, token[:i] + ("x" if token[i] != "x" else "y") + token[i + 1:])

    response = page.goto(tampered)

    assert response.status == 404
    expect(page.get_by_role("heading", name="This payment link is not valid")).to_be_visible()
    expect(page.get_by_text("No payment was taken.")).to_be_visible()
    page.screenshot(path=str(artifacts / "checkout-tampered-link.png"), full_page=True)


def test_an_organization_without_card_payments_shows_its_bank_details(
        page, invoice_link, scenario, tenant, artifacts):
    from payments import services

    with tenant.context():
        services.gateway_account_set(organization=tenant.organization, kind="manual")
    scenario.patch_settings(footer="Bank: First Bank of Example\nAccount: 0012 3456 789\n"
                                   "Routing: 021000021")
    invoice, url = invoice_link

    page.goto(url)

    how = page.get_by_test_id("how-to-pay")
    expect(how).to_contain_text(f"quote {invoice['number']} as the payment reference")
    expect(how).to_contain_text("Account: 0012 3456 789")
    expect(page.locator("#payment-form")).to_have_count(0)
    page.screenshot(path=str(artifacts / "checkout-bank-transfer.png"), full_page=True)
