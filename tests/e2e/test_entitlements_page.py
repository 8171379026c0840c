"""A finance user defines a metered feature on the Entitlements page, includes it in the
product of a customer's contract, then sees the customer's usage bar against the limit on the
customer's page and the customer among those nearest their limit on the feature's page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from entitlements.models import Feature, ProductFeature
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.scenario import Scenario, flat

pytestmark = [pytest.mark.browser, COMMITTING]


@pytest.fixture
def gold(tenant):
    """Acme's active contract for the GOLD product, from the start of this month for a year,
    and a meter counting api_call events."""
    scenario = Scenario(tenant)
    month = timezone.now().date().replace(day=1)
    acme = scenario.customer("acme", name="Acme Corp")
    scenario.product("GOLD")
    scenario.meter("api_calls", event_name="api_call")
    scenario.contract("acme", start=month.isoformat(),
                      end=month.replace(year=month.year + 1).isoformat(),
                      items=[flat("GOLD", "100.00")])
    return scenario, acme


def test_a_feature_is_defined_included_and_a_customers_usage_shown_against_its_limit(
        live_server, page, tenant, make_user, gold, artifacts):
    scenario, acme = gold
    sign_in(page, live_server.url, tenant.organization, make_user)
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))

    page.locator("nav").get_by_role("link", name="Entitlements").click()
    expect(page.locator("h1")).to_have_text("Entitlements")
    assert page.locator("nav a.active").inner_text() == "Entitlements"

    # The new-feature form asks for a meter and a reset only for the kinds that use them.
    form = page.get_by_test_id("feature-form")
    expect(form.locator("#new-meter_key")).to_be_hidden()
    form.locator("#new-kind").select_option("metered")
    expect(form.locator("#new-meter_key")).to_be_visible()
    expect(form.locator("#new-reset")).to_be_visible()
    form.locator("#new-key").fill("api_calls")
    form.locator("#new-name").fill("API calls")
    form.locator("#new-reset").select_option("monthly")
    form.locator("#new-unit").fill("calls")
    form.get_by_role("button", name="Create feature").click()
    # no meter chosen: the service's refusal, under the meter's select
    expect(form.locator(".has-error .field-error")).to_have_text(
        "A metered feature counts a meter's usage: name the meter.")
    assert form.locator("#new-key").input_value() == "api_calls"
    form.locator("#new-meter_key").select_option("api_calls")
    form.get_by_role("button", name="Create feature").click()
    page.wait_for_url(re.compile(r"/entitlements/features/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("status")).to_have_text("Feature API calls (api_calls) created.")
    with tenant.context():
        feature = Feature.objects.get(organization=tenant.organization)
    assert (feature.key, feature.kind, feature.meter_key, feature.reset) == (
        "api_calls", "metered", "api_calls", "monthly")

    # GOLD includes 1,000 calls a month.
    include = page.get_by_test_id("include-form")
    include.locator("select[name=product]").select_option(label="Gold (GOLD)")
    include.locator("input[name=value]").fill("1000")
    include.get_by_role("button", name="Include").click()
    expect(page.get_by_role("status")).to_have_text("Gold includes API calls.")
    expect(page.get_by_test_id("product-feature").get_by_test_id("included-value")) \
        .to_have_text("1,000 calls every calendar month")
    with tenant.context():
        assert ProductFeature.objects.get(organization=tenant.organization).value == 1000

    # Acme makes 300 calls (the metering API): 30% of the limit.
    at = (timezone.now() - timedelta(seconds=5)).isoformat()
    scenario.events(*[(f"call-{i}", "acme", "api_call", at, {}) for i in range(300)])

    page.goto(f"{live_server.url}/customers/{acme['id']}/")
    row = page.get_by_test_id("entitlement-row").filter(has_text="api_calls")
    bar = row.get_by_test_id("usage-bar")
    expect(bar).to_have_attribute("value", "0.3000")
    expect(row.get_by_test_id("usage-share")).to_have_text("30%")
    expect(row.get_by_test_id("usage-figures")).to_have_text("300 / 1,000")
    expect(row.get_by_test_id("entitlement-reason")).to_have_text("within limit")
    assert bar.bounding_box()["width"] > 50  # drawn, not collapsed
    page.screenshot(path=str(artifacts / "entitlements-customer.png"), full_page=True)

    # The feature's page: Acme among the customers nearest their limit.
    row.get_by_role("link", name="API calls").click()
    page.wait_for_url(re.compile(rf"/entitlements/features/{feature.id}/$"))
    nearest = page.get_by_test_id("nearest-row")
    expect(nearest).to_have_count(1)
    expect(nearest).to_contain_text("Acme Corp")
    expect(nearest.get_by_test_id("usage-share")).to_have_text("30%")
    page.screenshot(path=str(artifacts / "entitlements-feature.png"), full_page=True)

    # The product's page shows what it includes; the Entitlements page lists the feature.
    page.get_by_test_id("product-feature").get_by_role("link", name="Gold").click()
    expect(page.get_by_test_id("product-entitlements").get_by_test_id("included-value")) \
        .to_have_text("1,000 calls every calendar month")
    page.screenshot(path=str(artifacts / "entitlements-product.png"), full_page=True)
    page.locator("nav").get_by_role("link", name="Entitlements").click()
    expect(page.get_by_test_id("feature-row")).to_contain_text("api_calls")
    page.screenshot(path=str(artifacts / "entitlements.png"), full_page=True)
    assert problems == []
