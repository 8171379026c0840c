"""A finance user amends an active contract from its page, and writes a contract's discounts,
minimum commitment and meter through the editor's own fields (no JSON typed).

The live server runs on the real clock: the amended contract is evergreen, so whatever today
is, its terms are in force on the suggested date and its page shows the months around the
amendment (2026)."""

import re

import pytest
from playwright.sync_api import expect

from contracts import selectors, services
from contracts.models import Contract
from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.factories import CustomerFactory, MeterFactory, ProductFactory

pytestmark = [pytest.mark.browser, COMMITTING]



def at(page, path: str):
    """The input (or part of the editor) for a path of the document the editor sends."""
    return page.locator(f'[data-path="{path}"]')


def billing_row(page, day: str):
    return page.get_by_test_id("billing-date").filter(
        has=page.locator("td", has_text=re.compile(f"^{day}$")))


@pytest.fixture
def catalog(tenant):
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, external_id="initech-7",
                               name="Initech", time_zone="America/New_York")
    for sku, name, kind in (("PLATFORM", "Platform fee", "recurring"),
                            ("API", "API calls", "usage"),
                            ("COMMIT", "Committed spend", "recurring")):
        ProductFactory(organization=organization, name=name, sku=sku, kind=kind)
    MeterFactory(organization=organization, key="api_calls", name="API calls",
                 event_name="api_call")
    MeterFactory(organization=organization, key="storage_gb", name="Storage",
                 event_name="storage")
    return customer


def test_a_finance_user_amends_an_active_contracts_price_from_a_date(
    live_server, page, tenant, make_user, catalog, artifacts
):
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization, document={
            "customer": "initech-7", "name": "Initech platform", "start_date": "2026-01-01",
            "end_date": None, "cadence": "monthly", "phases": [{
                "name": "Launch", "start_date": "2026-01-01", "end_date": None,
                "items": [{"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
                           "pricing": {"amount": "100.00"}}]}]})
        services.contract_activate(contract=contract)
    sign_in(page, live_server.url, tenant.organization, make_user)

    page.goto(f"{live_server.url}/contracts/{contract.id}/")
    page.get_by_role("link", name="Amend").click()
    expect(page.locator("h1")).to_have_text("Amend Initech platform")
    # The terms in force are filled in, from the suggested date on.
    expect(at(page, "phases[0].items[0].pricing.amount")).to_have_value("100.00")
    suggested = at(page, "effective_date").input_value()
    assert at(page, "phases[0].start_date").input_value() == suggested
    assert at(page, "end_date").input_value() == ""  # evergreen, and staying so

    # From September 2026, 150.00 a month. The new phase starts on the date given.
    at(page, "effective_date").fill("2026-09-01")
    assert at(page, "phases[0].start_date").input_value() == "2026-09-01"
    at(page, "description").fill("Platform price from September")
    at(page, "phases[0].name").fill("From September")
    # Saved with the price left blank first: the service's message lands on the new phase's
    # field (counted among the amendment's phases, not the contract's).
    at(page, "phases[0].items[0].pricing.amount").fill("")
    page.get_by_role("button", name="Save amendment").click()
    expect(page.locator('[data-path="phases[0].items[0].pricing.amount"] + .field-error')
           ).to_have_text("is required")
    expect(page.get_by_role("alert")).to_contain_text(
        "The amendment was not saved: 1 problem to fix.")
    with tenant.context():
        assert not Contract.objects.get(id=contract.id).amendments.exists()

    at(page, "phases[0].items[0].pricing.amount").fill("150.00")
    page.screenshot(path=str(artifacts / "contract-amend.png"), full_page=True)
    page.get_by_role("button", name="Save amendment").click()
    page.wait_for_url(f"{live_server.url}/contracts/{contract.id}/")

    # The history has the amendment...
    history = page.locator("section", has=page.get_by_role("heading", name="Amendments"))
    expect(history.locator("tbody tr")).to_have_count(1)
    row = history.locator("tbody tr").first
    assert row.locator("td").nth(0).inner_text() == "2026-09-01"
    assert row.locator("td").nth(1).inner_text() == "Platform price from September"
    assert "finance@acme.test" in row.locator("td").nth(3).inner_text()
    # ... the phases are cut at the date ...
    phases = page.get_by_test_id("phase")
    expect(phases).to_have_count(2)
    assert "2026-01-01 → 2026-09-01" in phases.nth(0).locator("h3").inner_text()
    assert "From September" in phases.nth(1).locator("h3").inner_text()
    assert "$150.00" in phases.nth(1).inner_text()
    # ... and the schedule bills 100.00 through August, 150.00 from September 1st (monthly
    # in advance, each month whole: 1 x 100.00, then 1 x 150.00).
    assert billing_row(page, "2026-08-01").locator("td").last.inner_text() == "$100.00"
    assert billing_row(page, "2026-09-01").locator("td").last.inner_text() == "$150.00"
    assert billing_row(page, "2026-10-01").locator("td").last.inner_text() == "$150.00"
    page.screenshot(path=str(artifacts / "contract-amended.png"), full_page=True)

    with tenant.context():
        contract.refresh_from_db()
        terms = [(str(p.start_date), str(p.end_date), [i.pricing for i in p.items.all()])
                 for p in contract.phases.all()]
    assert terms == [("2026-01-01", "2026-09-01", [{"amount": "100.00"}]),
                     ("2026-09-01", "None", [{"amount": "150.00"}])]

    # The contract's page and the amend page on a phone: no sideways scroll.
    page.set_viewport_size(PHONE)
    fits(page)
    page.goto(f"{live_server.url}/contracts/{contract.id}/amend/")
    expect(at(page, "phases[0].items[0].pricing.amount")).to_have_value("150.00")
    fits(page)


def test_discounts_a_commitment_and_a_meter_are_written_with_their_own_fields(
    live_server, page, tenant, make_user, catalog, artifacts
):
    sign_in(page, live_server.url, tenant.organization, make_user)
    page.goto(f"{live_server.url}/contracts/new/?customer=initech-7")
    expect(at(page, "customer")).to_have_value("initech-7")
    at(page, "name").fill("Initech usage agreement")
    at(page, "start_date").fill("2026-01-01")
    at(page, "end_date").fill("2027-01-01")
    phase = page.locator("[data-phase]").nth(0)

    # The platform fee, 10% off its first three periods.
    at(page, "phases[0].items[0].product").select_option("PLATFORM")
    at(page, "phases[0].items[0].pricing.amount").fill("1000.00")
    phase.locator("[data-item]").nth(0).get_by_role("button", name="+ Add discount").click()
    at(page, "phases[0].items[0].discounts[0].kind").select_option("percent")
    at(page, "phases[0].items[0].discounts[0].value").fill("10")
    at(page, "phases[0].items[0].discounts[0].periods").fill("3")
    at(page, "phases[0].items[0].discounts[0].description").fill("Launch offer")

    # API calls at 0.002 each, on the meter picked from the organization's meters.
    phase.get_by_role("button", name="+ Add item").click()
    at(page, "phases[0].items[1].product").select_option("API")
    at(page, "phases[0].items[1].model").select_option("per_unit")
    meters = at(page, "phases[0].items[1].meter_pick")
    meters.select_option("api_calls")
    assert meters.locator("option:checked").inner_text() == "API calls (api_calls)"
    assert at(page, "phases[0].items[1].meter").is_hidden()  # the key is not typed
    at(page, "phases[0].items[1].pricing.unit_price").fill("0.002")

    # A minimum spend of 5,000.00 a period.
    phase.get_by_role("button", name="+ Add item").click()
    at(page, "phases[0].items[2].product").select_option("COMMIT")
    at(page, "phases[0].items[2].model").select_option("minimum_commitment")
    at(page, "phases[0].items[2].pricing.amount").fill("5000.00")

    # And 100.00 off the contract's first quarter.
    page.get_by_role("button", name="+ Add contract discount").click()
    at(page, "discounts[0].kind").select_option("fixed")
    expect(page.locator('[data-path="discounts[0]"] [data-value-label]')).to_have_text(
        "Amount off, per period")
    at(page, "discounts[0].value").fill("100.00")
    at(page, "discounts[0].starts_on").fill("2026-01-01")
    at(page, "discounts[0].ends_on").fill("2026-04-01")
    at(page, "discounts[0].description").fill("Launch credit")
    assert page.locator("textarea").count() == 0  # nothing to write as JSON
    page.screenshot(path=str(artifacts / "contract-editor-discounts.png"), full_page=True)

    page.get_by_role("button", name="Save draft contract").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))
    phase_text = page.get_by_test_id("phase").first.inner_text()
    assert "discount: Launch offer: 10% off for 3 periods" in phase_text
    assert "minimum $5,000.00 per period" in phase_text
    assert "$0.002 per unit of api_calls" in phase_text
    assert "Launch credit: $100.00 off from 2026-01-01 until 2026-04-01" in page.inner_text(
        "body")

    with tenant.context():
        contract = Contract.objects.get(organization=tenant.organization,
                                        name="Initech usage agreement")
        document = selectors.contract_document(contract=contract)
    items = [{k: v for k, v in item.items() if k != "id"}
             for item in document["phases"][0]["items"]]
    for item in items:
        item["discounts"] = [{k: v for k, v in d.items() if k != "id"} for d in item["discounts"]]
    assert [(i["product"], i["model"], i["meter"], i["pricing"], i["discounts"]) for i in items] == [
        ("PLATFORM", "flat_fee", None, {"amount": "1000.00"},
         [{"description": "Launch offer", "kind": "percent", "value": "10", "periods": 3,
           "starts_on": None, "ends_on": None}]),
        ("API", "per_unit", "api_calls", {"unit_price": "0.002"}, []),
        ("COMMIT", "minimum_commitment", None, {"amount": "5000.00"}, []),
    ]
    assert [{k: v for k, v in d.items() if k != "id"} for d in document["discounts"]] == [
        {"description": "Launch credit", "kind": "fixed", "value": "100", "periods": None,
         "starts_on": "2026-01-01", "ends_on": "2026-04-01"}]

    # The editor of the draft shows them in the same fields, also on a phone.
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/contracts/{contract.id}/edit/")
    expect(at(page, "phases[0].items[0].discounts[0].value")).to_have_value("10")
    expect(at(page, "discounts[0].value")).to_have_value("100")
    expect(at(page, "phases[0].items[1].meter_pick")).to_have_value("api_calls")
    fits(page)
    page.screenshot(path=str(artifacts / "contract-editor-discounts-phone.png"), full_page=True)


def test_a_meter_key_not_in_the_list_is_typed_and_checked_by_the_server(
    live_server, page, tenant, make_user, catalog
):
    sign_in(page, live_server.url, tenant.organization, make_user)
    page.goto(f"{live_server.url}/contracts/new/?customer=initech-7")
    expect(at(page, "customer")).to_have_value("initech-7")
    at(page, "name").fill("Initech storage")
    at(page, "start_date").fill("2026-01-01")
    at(page, "phases[0].items[0].product").select_option("API")
    at(page, "phases[0].items[0].model").select_option("per_unit")
    at(page, "phases[0].items[0].meter_pick").select_option(label="Another key…")
    at(page, "phases[0].items[0].meter").fill("bandwidth_gb")
    at(page, "phases[0].items[0].pricing.unit_price").fill("0.05")
    page.get_by_role("button", name="Save draft contract").click()

    expect(page.locator('[data-path="phases[0].items[0].meter"] + .field-error')).to_contain_text(
        "bandwidth_gb")
    with tenant.context():
        assert not Contract.objects.filter(organization=tenant.organization).exists()

    at(page, "phases[0].items[0].meter").fill("storage_gb")
    page.get_by_role("button", name="Save draft contract").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))
    with tenant.context():
        item = Contract.objects.get(organization=tenant.organization).phases.get().items.get()
    assert item.meter_key == "storage_gb"
