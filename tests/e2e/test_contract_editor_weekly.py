"""A finance user writes a weekly contract with a card fee per transaction in the dashboard's
editor, and reads it back on the contract's page."""

import re

import pytest
from playwright.sync_api import expect

from contracts.models import Contract
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.factories import CustomerFactory, MeterFactory, ProductFactory

pytestmark = [pytest.mark.browser, COMMITTING]


def at(page, path: str):
    """The input (or part of the editor) for a path of the contract document."""
    return page.locator(f'[data-path="{path}"]')


def test_a_weekly_contract_with_a_fee_per_transaction_is_written_in_the_editor(
    live_server, page, tenant, make_user, artifacts
):
    organization = tenant.organization
    CustomerFactory(organization=organization, external_id="initech-7", name="Initech")
    ProductFactory(organization=organization, name="Platform fee", sku="PLATFORM")
    ProductFactory(organization=organization, name="Card payments", sku="CARD", kind="usage",
                   revenue_rule="as_used")
    MeterFactory(organization=organization, key="card_volume", name="Card volume",
                 event_name="charge", aggregation="sum", value_property="$.amount")
    sign_in(page, live_server.url, organization, make_user)

    page.goto(f"{live_server.url}/contracts/new/?customer=initech-7")
    expect(at(page, "customer")).to_have_value("initech-7")
    at(page, "name").fill("Initech payments")
    at(page, "start_date").fill("2026-01-07")  # a Wednesday
    at(page, "end_date").fill("2026-02-05")
    # The weekday to start weeks on is only asked for weekly periods on the calendar.
    expect(at(page, "anchor_weekday")).to_be_hidden()
    at(page, "cadence").select_option("weekly")
    expect(at(page, "anchor_weekday")).to_be_visible()
    at(page, "anchor_weekday").select_option("monday")

    at(page, "phases[0].items[0].product").select_option("PLATFORM")
    at(page, "phases[0].items[0].pricing.amount").fill("70.00")
    page.locator("[data-phase]").get_by_role("button", name="+ Add item").click()
    at(page, "phases[0].items[1].product").select_option("CARD")
    at(page, "phases[0].items[1].model").select_option("percentage")
    at(page, "phases[0].items[1].timing").select_option("arrears")
    page.wait_for_selector("#contract-editor[data-meters=loaded]", state="attached")
    at(page, "phases[0].items[1].meter_pick").select_option("card_volume")
    at(page, "phases[0].items[1].pricing.percent").fill("2.9")
    at(page, "phases[0].items[1].pricing.fixed_fee").fill("0.30")
    at(page, "phases[0].items[1].pricing.free_transactions").fill("3")
    at(page, "phases[0].items[1].pricing.minimum_per_transaction").fill("0.50")
    at(page, "phases[0].items[1].pricing.maximum_per_transaction").fill("10.00")
    page.screenshot(path=str(artifacts / "contract-editor-weekly.png"), full_page=True)

    page.get_by_role("button", name="Save draft contract").click()
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))

    assert page.get_by_test_id("billing-cadence").inner_text() == "Weekly, Monday to Sunday"
    items = page.get_by_test_id("phase").inner_text()
    assert ("2.9% + $0.30 per transaction of card_volume (min $0.50, max $10.00), "
            "first 3 free each period") in items
    # The schedule: Wed Jan 7 - Sun Jan 11 is 5 of the week's 7 days: 70.00 x 5/7 = 50.00
    first = page.get_by_test_id("billing-date").first
    assert first.locator("td").first.inner_text() == "2026-01-07"
    assert first.locator("td").last.inner_text() == "$50.00"
    assert "5/7" in first.inner_text()
    # Mon Jan 12: the week's fee, and the first week's card fees (billed on what is used)
    second = page.get_by_test_id("billing-date").nth(1)
    assert second.locator("td").first.inner_text() == "2026-01-12"
    assert "+ usage" in second.inner_text()
    page.screenshot(path=str(artifacts / "contract-detail-weekly.png"), full_page=True)

    with tenant.context():
        contract = Contract.objects.get(organization=organization, name="Initech payments")
        [card] = [i for i in contract.phases.get().items.all() if i.model == "percentage"]
    assert (contract.cadence, contract.anchor, contract.anchor_weekday) == (
        "weekly", "calendar", "monday")
    assert (card.meter_key, card.timing) == ("card_volume", "arrears")
    assert card.pricing == {"percent": "2.9", "fixed_fee": "0.30", "free_transactions": "3",
                            "minimum_per_transaction": "0.50",
                            "maximum_per_transaction": "10.00"}
