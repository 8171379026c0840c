"""The dashboard and the hosted checkout on a phone (390 x 844 px): no page scrolls sideways --
wide tables scroll in a box of their own, grids, forms and figures stack, the sidebar folds
behind a menu button -- the customer pays by card on the phone and the receipt names the card,
and activating a contract asks first. Screenshots of the home page, a customer page and the
checkout at 390 px go to the artifacts folder.

The books: Initech's contract (a platform fee of 1,000.00 + 20 seats x 15.00, monthly in
advance) has its January invoice of 1,300.00 finalized, 300.00 of it received by bank
transfer: 1,000.00 is still due (the receivables have an aging, the checkout something to
charge) and the ledger has posted (the revenue page draws its tables). Globex has a draft
contract."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from invoicing.models import Invoice
from payments import services as payments
from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.scenario import flat

pytestmark = [pytest.mark.browser, COMMITTING]

@pytest.fixture
def books(scenario, stripe_gateway, tenant, live_server, settings):
    settings.PUBLIC_URL = live_server.url
    scenario.patch_settings(support_email="billing@acme.test",
                            address="Acme Inc.\n1 Market St, San Francisco")
    initech = scenario.customer("initech", name="Initech Corporation International")
    scenario.customer("globex", name="Globex")
    scenario.product("PLATFORM")
    scenario.product("SEATS")
    contract = scenario.contract(customer="initech", items=[
        {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "1000.00"}},
        {"product": "SEATS", "model": "per_unit", "quantity": 20,
         "pricing": {"unit_price": "15.00"}},
    ])
    draft = scenario.contract(customer="globex", items=[flat("PLATFORM", "500.00")],
                              status="draft")
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    assert (invoice["status"], invoice["total"]) == ("finalized", "1300.00")
    with tenant.context():
        payments.payment_record_offline(
            invoice=Invoice.objects.get(id=invoice["id"]), amount=Decimal("300.00"),
            method="bank_transfer", reference="TR-1", received_on=None, actor="ana@acme.test")
    link = scenario.post("checkout-sessions", {"invoice": invoice["id"]})["url"]
    return {"customer": initech, "contract": contract, "draft": draft, "invoice": invoice,
            "link": link}


def test_every_dashboard_page_fits_a_phone(live_server, page, tenant, make_user, books,
                                           artifacts):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server.url, tenant.organization, make_user)
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    pages = {
        "home": reverse("dashboard:home"),
        "customers": reverse("contracts:customer-list"),
        "customer": reverse("contracts:customer-detail", args=[books["customer"]["id"]]),
        "contracts": reverse("contracts:contract-list"),
        "contract": reverse("contracts:contract-detail", args=[books["contract"]["id"]]),
        "invoices": reverse("invoicing:invoice-list"),
        "invoice": reverse("invoicing:invoice-detail", args=[books["invoice"]["id"]]),
        "payments": reverse("payments_dashboard:payment-list"),
        "revenue": reverse("revrec:revenue"),
        "receivables": reverse("receivables:aging"),
    }
    shots = {"home": "narrow-dashboard-home.png", "customer": "narrow-customer.png"}

    for name, path in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, name
        expect(page.locator("h1").first).to_be_visible()
        fits(page, name)
        if name in shots:
            page.screenshot(path=str(artifacts / shots[name]), full_page=True)

    # What each page is about is there, the wide parts in their own box.
    page.goto(f"{live_server.url}{pages['invoice']}")
    expect(page.get_by_test_id("amount-due")).to_have_text("$1,000.00")
    page.goto(f"{live_server.url}{pages['receivables']}")
    expect(page.get_by_test_id("outstanding")).to_have_text("$1,000.00")
    assert page.evaluate("() => document.querySelector('[data-testid=aging-table]')"
                         ".closest('.table-wrap') !== null")

    # The sidebar is folded behind the menu button; the button opens it.
    page.goto(f"{live_server.url}{pages['home']}")
    nav, menu = page.locator("#dashboard-nav"), page.get_by_test_id("menu-toggle")
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(nav).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    fits(page, "home with the menu open")
    page.screenshot(path=str(artifacts / "narrow-dashboard-menu.png"), full_page=True)
    nav.get_by_role("link", name="Customers").click()
    expect(page.locator("h1")).to_have_text("Customers")
    expect(page.locator("#dashboard-nav")).to_be_hidden()  # folded again on the next page
    assert problems == []


def fill_card(page, number):
    """The card field as the emulator's Stripe.js draws it (the number without spaces)."""
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("94105")


def test_the_checkout_fits_a_phone_and_its_receipt_names_the_card(page, books, artifacts):
    page.set_viewport_size(PHONE)
    page.goto(books["link"])

    pay = page.get_by_role("button", name="Pay $1,000.00")
    expect(pay).to_be_enabled()  # Stripe.js loaded and mounted the card field
    expect(page.locator("#cardholder")).to_have_value("")  # the customer's own name to type
    expect(page.get_by_test_id("support-contact")).to_have_text("Questions? billing@acme.test")
    fits(page, "checkout")
    fill_card(page, "4242424242424242")
    page.locator("#cardholder").fill("Jane Doe")
    fits(page, "checkout with the card typed")
    page.screenshot(path=str(artifacts / "narrow-checkout.png"), full_page=True)

    pay.click()

    page.wait_for_url(re.compile(r"/pay/[^/]+/done$"))
    expect(page.get_by_role("heading", name="Payment successful")).to_be_visible()
    expect(page.get_by_test_id("paid-by")).to_have_text("Visa •••• 4242")
    expect(page.get_by_test_id("support-contact")).to_have_text("Questions? billing@acme.test")
    fits(page, "receipt")
    page.screenshot(path=str(artifacts / "narrow-checkout-receipt.png"), full_page=True)


def test_activating_a_contract_asks_first(live_server, page, tenant, make_user, books,
                                          scenario):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server.url, tenant.organization, make_user)
    contract_id = books["draft"]["id"]
    page.goto(f"{live_server.url}{reverse('contracts:contract-detail', args=[contract_id])}")
    fits(page, "draft contract")
    asked = []

    def answer(accept):
        def handle(dialog):
            asked.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()
        return handle

    page.once("dialog", answer(False))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_timeout(500)  # time for a submission the question failed to stop
    assert scenario.get(f"contracts/{contract_id}")["status"] == "draft"

    page.once("dialog", answer(True))
    with page.expect_navigation():
        page.get_by_role("button", name="Activate").click()

    expect(page.get_by_role("status")).to_contain_text("is active")
    assert scenario.get(f"contracts/{contract_id}")["status"] == "active"
    assert len(asked) == 2
    assert asked[0].startswith("Activate Scenario? Globex is billed on its schedule from now on")
