"""A finance user writes a customer and a two-phase contract through the dashboard."""

import json
import re

import pytest
from playwright.sync_api import expect

from contracts import selectors, services
from contracts.models import Contract
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.contracts import TWO_PHASES
from tests.support.factories import CustomerFactory, MeterFactory, ProductFactory

pytestmark = [pytest.mark.browser, COMMITTING]


@pytest.fixture
def finance(live_server, page, tenant, make_user):
    """Products in the catalog, and a finance user signed in to the dashboard."""
    for sku, name in (("PLATFORM", "Platform fee"), ("SEATS", "Seats")):
        ProductFactory(organization=tenant.organization, name=name, sku=sku)
    sign_in(page, live_server.url, tenant.organization, make_user)
    return page


def at(page, path: str):
    """The input (or part of the editor) for a path of the contract document."""
    return page.locator(f'[data-path="{path}"]')


def fill_header(page, *, start="2026-01-01", end="2028-01-01"):
    at(page, "name").fill("Initech platform agreement")
    at(page, "reference").fill("MSA-2026-007")
    at(page, "start_date").fill(start)
    at(page, "end_date").fill(end)


def test_a_customer_and_a_two_phase_contract_are_written_in_the_dashboard(
    live_server, finance, tenant, artifacts
):
    page = finance
    # A new customer through the form.
    page.locator("nav").get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="New customer").click()
    page.fill("#id_external_id", "initech-7")
    page.fill("#id_name", "Initech")
    page.fill("#id_emails", "ap@initech.test")
    page.fill("#id_country", "US")
    page.screenshot(path=str(artifacts / "customer-form.png"), full_page=True)
    page.get_by_role("button", name="Create customer").click()
    assert page.locator("h1").inner_text() == "Initech"
    assert page.get_by_role("status").inner_text() == "Customer Initech created."
    page.screenshot(path=str(artifacts / "customer-detail.png"), full_page=True)

    # The editor opens with the customer chosen.
    page.get_by_role("link", name="New contract").click()
    expect(at(page, "customer")).to_have_value("initech-7")  # once the editor's script ran
    fill_header(page)
    # The first phase follows the contract's dates until it is given its own end.
    assert at(page, "phases[0].start_date").input_value() == "2026-01-01"
    assert at(page, "phases[0].end_date").input_value() == "2028-01-01"
    at(page, "phases[0].name").fill("Year 1")
    at(page, "phases[0].end_date").fill("2027-01-01")

    # Phase 1: the platform fee in advance, and 20 seats at 15.00.
    at(page, "phases[0].items[0].product").select_option("PLATFORM")
    assert at(page, "phases[0].items[0].model").input_value() == "flat_fee"
    at(page, "phases[0].items[0].pricing.amount").fill("1000.00")
    page.locator("[data-phase]").nth(0).get_by_role("button", name="+ Add item").click()
    at(page, "phases[0].items[1].product").select_option("SEATS")
    at(page, "phases[0].items[1].model").select_option("per_unit")
    at(page, "phases[0].items[1].quantity").fill("20")
    at(page, "phases[0].items[1].pricing.unit_price").fill("15.00")

    # Phase 2 starts where phase 1 ends and runs to the contract's end.
    page.get_by_role("button", name="+ Add phase").click()
    assert at(page, "phases[1].start_date").input_value() == "2027-01-01"
    assert at(page, "phases[1].end_date").input_value() == "2028-01-01"
    at(page, "phases[1].name").fill("Year 2")
    at(page, "phases[1].items[0].product").select_option("PLATFORM")
    at(page, "phases[1].items[0].pricing.amount").fill("1200.00")
    page.screenshot(path=str(artifacts / "contract-editor.png"), full_page=True)

    page.get_by_role("button", name="Save draft contract").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))

    assert page.locator("h1").inner_text().startswith("Initech platform agreement")
    phases = page.get_by_test_id("phase")
    assert phases.count() == 2
    assert "Year 1" in phases.nth(0).inner_text()
    assert "$15.00 per unit x 20" in phases.nth(0).inner_text()
    assert "$1,200.00" in phases.nth(1).inner_text()
    first = page.get_by_test_id("billing-date").first
    # Jan 1 2026, monthly in advance: platform 1,000.00 + 20 seats x 15.00 = 1,300.00
    assert first.locator("td").first.inner_text() == "2026-01-01"
    assert first.locator("td").last.inner_text() == "$1,300.00"
    page.wait_for_function("window.Chart && Chart.getChart('billing-chart') !== undefined")
    page.screenshot(path=str(artifacts / "contract-detail.png"), full_page=True)

    with tenant.context():
        contract = Contract.objects.select_related("customer").get(
            organization=tenant.organization, name="Initech platform agreement"
        )
        phases = [
            (str(phase.start_date), str(phase.end_date),
             [(item.product.sku, item.model, item.quantity, item.pricing)
              for item in phase.items.all()])
            for phase in contract.phases.all()
        ]
    assert contract.status == "draft"
    assert contract.customer.external_id == "initech-7"
    assert phases == [
        ("2026-01-01", "2027-01-01", [("PLATFORM", "flat_fee", None, {"amount": "1000.00"}),
                                      ("SEATS", "per_unit", 20, {"unit_price": "15.00"})]),
        ("2027-01-01", "2028-01-01", [("PLATFORM", "flat_fee", None, {"amount": "1200.00"})]),
    ]

    # The lists show it too.
    for name, label in (("Contracts", "Initech platform agreement"), ("Customers", "Initech"),
                        ("Products", "Seats")):
        page.locator("nav").get_by_role("link", name=name).click()
        assert page.locator("nav a.active").inner_text() == name
        assert page.get_by_role("cell", name=label, exact=True).is_visible()
        page.screenshot(path=str(artifacts / f"{name.lower()}-list.png"), full_page=True)


def test_the_servers_errors_are_shown_next_to_their_fields_and_nothing_is_saved(
    live_server, finance, tenant, artifacts
):
    page = finance
    CustomerFactory(organization=tenant.organization, external_id="initech-7", name="Initech")
    page.goto(f"{live_server.url}/contracts/new/?customer=initech-7")
    fill_header(page)
    at(page, "phases[0].items[0].product").select_option("PLATFORM")
    # The amount is left empty, and a tier table's first bound is not a number.
    page.locator("[data-phase]").get_by_role("button", name="+ Add item").click()
    at(page, "phases[0].items[1].product").select_option("SEATS")
    at(page, "phases[0].items[1].model").select_option("graduated")
    at(page, "phases[0].items[1].quantity").fill("20")
    at(page, "phases[0].items[1].pricing.tiers[0].up_to").fill("ten")
    at(page, "phases[0].items[1].pricing.tiers[1].unit_price").fill("12.00")

    page.get_by_role("button", name="Save draft contract").click()

    amount_error = page.locator(
        '[data-path="phases[0].items[0].pricing.amount"] + .field-error'
    )
    assert amount_error.inner_text() == "is required"
    tier_error = page.locator(
        '[data-path="phases[0].items[1].pricing.tiers[0].up_to"] + .field-error'
    )
    assert tier_error.inner_text() == "'ten' is not a number"
    summary = page.get_by_role("alert")
    assert "The contract was not saved: 2 problems to fix." in summary.inner_text()
    assert "Phase 1 › item 1 › amount: is required" in summary.inner_text()
    assert page.url.endswith("/contracts/new/?customer=initech-7")
    page.screenshot(path=str(artifacts / "contract-editor-errors.png"), full_page=True)
    with tenant.context():
        assert not Contract.objects.filter(organization=tenant.organization).exists()

    # Corrected, it saves; the old messages are gone before the answer comes.
    at(page, "phases[0].items[0].pricing.amount").fill("1000.00")
    at(page, "phases[0].items[1].pricing.tiers[0].up_to").fill("10")
    page.get_by_role("button", name="Save draft contract").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))
    with tenant.context():
        assert Contract.objects.filter(organization=tenant.organization).count() == 1


def test_a_draft_opens_in_the_editor_with_all_its_terms_and_saves_unchanged(
    live_server, finance, tenant, artifacts
):
    """Tiers, meters, discounts and variables (which have no input of their own) survive
    a round trip through the editor."""
    organization = tenant.organization
    CustomerFactory(organization=organization, external_id="acme-42", name="Acme Corp",
                    time_zone="America/New_York")
    ProductFactory(organization=organization, name="API calls", sku="API", kind="usage",
                   revenue_rule="as_used")
    MeterFactory(organization=organization, key="api_calls", name="API calls",
                 event_name="api_call")
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization,
                                            document=TWO_PHASES)
        before = selectors.contract_document(contract=contract)

    page = finance
    page.goto(f"{live_server.url}/contracts/{contract.id}/edit/")
    expect(at(page, "customer")).to_have_value("acme-42")
    assert at(page, "renewal_term_months").input_value() == "12"
    assert at(page, "phases[0].items[2].pricing.tiers[1].up_to").input_value() == "1000000"
    assert at(page, "phases[0].items[2].meter").input_value() == "api_calls"
    at(page, "phases[1].name").fill("Year 2 (renegotiated)")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{live_server.url}/contracts/{contract.id}/")
    page.screenshot(path=str(artifacts / "contract-detail-with-usage.png"), full_page=True)
    assert page.get_by_test_id("phase").nth(1).locator("h3").inner_text().startswith(
        "Year 2 (renegotiated)"
    )

    with tenant.context():
        contract.refresh_from_db()
        after = selectors.contract_document(contract=contract)

    def terms(document):
        """The document without the ids (phases and items are written anew on each save)."""
        text = json.dumps(document, sort_keys=True)
        return json.loads(re.sub(r'"id": "[0-9a-f-]{36}"', '"id": null', text))

    before["phases"][1]["name"] = "Year 2 (renegotiated)"
    assert terms(after) == terms(before)
