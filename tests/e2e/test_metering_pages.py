"""A finance user defines a meter in the dashboard, watches the events arrive in the live tail
and reads a customer's usage by day on the meter's page."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from metering import services
from metering.models import Event, Meter
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.factories import CustomerFactory
from tests.support.metering import (
    SOURCE_PASSWORD,
    rows_of_yesterday,
    source_form,
    warehouse_database,
)

pytestmark = [pytest.mark.browser, COMMITTING]

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def finance(live_server, page, tenant, make_user):
    """A customer billed in Paris, and a finance user signed in to the dashboard."""
    CustomerFactory(organization=tenant.organization, external_id="acme-42", name="Acme Corp",
                    currency="EUR", time_zone="Europe/Paris")
    sign_in(page, live_server.url, tenant.organization, make_user)
    return page


def test_a_meter_is_defined_and_a_customers_daily_usage_is_charted(
    live_server, finance, tenant, artifacts
):
    page = finance
    page.locator("nav").get_by_role("link", name="Usage").click()
    assert page.locator("nav a.active").inner_text() == "Usage"
    expect(page.get_by_test_id("no-meters")).to_be_visible()
    page.screenshot(path=str(artifacts / "usage-empty.png"), full_page=True)

    # The meter, through the form.
    page.get_by_role("link", name="New meter").click()
    page.fill("#id_key", "llm_tokens")
    page.fill("#id_name", "LLM tokens")
    page.fill("#id_event_name", "llm_call")
    page.select_option("#id_aggregation", "sum")
    page.fill("#id_value_property", "$.tokens")
    page.fill("#id_filters", '[{"property": "$.region", "op": "within", "value": ["eu"]}]')
    page.fill("#id_group_by", "$.model")
    page.get_by_role("button", name="Create meter").click()
    # the service's error, under the input it is about; what was typed stays
    expect(page.locator(".has-error .field-error")).to_have_text(
        "#1 › op: Must be one of equals, in, not_in."
    )
    assert page.input_value("#id_key") == "llm_tokens"
    page.screenshot(path=str(artifacts / "meter-form-errors.png"), full_page=True)
    with tenant.context():
        assert not Meter.objects.filter(organization=tenant.organization).exists()
    page.fill("#id_filters", '[{"property": "$.region", "op": "in", "value": ["eu", "us"]}]')
    page.screenshot(path=str(artifacts / "meter-form.png"), full_page=True)
    page.get_by_role("button", name="Create meter").click()
    page.wait_for_url(re.compile(r"/metering/meters/[0-9a-f-]{36}/$"))
    assert page.get_by_role("status").inner_text() == "Meter LLM tokens created."
    with tenant.context():
        meter = Meter.objects.get(organization=tenant.organization)
    assert (meter.key, meter.aggregation, meter.value_property, meter.filters,
            meter.group_by) == ("llm_tokens", "sum", "$.tokens",
                                [{"property": "$.region", "op": "in", "value": ["eu", "us"]}],
                                ["$.model"])

    # The overview is open when the events arrive: the live tail shows them on its own.
    page.locator("nav").get_by_role("link", name="Usage").click()
    expect(page.get_by_test_id("meter-row")).to_have_count(1)
    assert page.get_by_test_id("tail-event").count() == 0
    day = timezone.now().astimezone(PARIS).date() - timedelta(days=2)

    def paris(days: int, hour: int) -> str:
        return (datetime(day.year, day.month, day.day, hour, tzinfo=PARIS)
                + timedelta(days=days)).isoformat()

    with tenant.context():
        result = services.events_ingest(organization=tenant.organization, events=[
            {"event_id": "e-1", "customer": "acme-42", "event_name": "llm_call",
             "timestamp": paris(0, 10), "properties": {"tokens": 100, "region": "eu",
                                                       "model": "small"}},
            {"event_id": "e-2", "customer": "acme-42", "event_name": "llm_call",
             "timestamp": paris(0, 23), "properties": {"tokens": 23, "region": "us",
                                                       "model": "large"}},
            {"event_id": "e-3", "customer": "acme-42", "event_name": "llm_call",
             "timestamp": paris(1, 8), "properties": {"tokens": 7, "region": "eu"}},
            {"event_id": "e-4", "customer": "acme-42", "event_name": "llm_call",
             "timestamp": paris(0, 12), "properties": {"tokens": 5000, "region": "ap"}},
            {"event_id": "e-5", "customer": "initech-9", "event_name": "llm_call",
             "timestamp": paris(0, 9), "properties": {"tokens": 40, "region": "eu"}},
        ])
    assert result.accepted == 5
    expect(page.get_by_test_id("tail-event")).to_have_count(5, timeout=12_000)  # polled
    assert "acme-42" in page.get_by_test_id("live-tail").inner_text()
    expect(page.locator("#events-24h")).to_have_text("5")  # swapped in with the tail
    page.screenshot(path=str(artifacts / "usage-overview.png"), full_page=True)

    # The meter's page: pick the customer, read the chart and the table.
    page.get_by_test_id("meter-row").get_by_role("link", name="LLM tokens").click()
    page.wait_for_url(re.compile(r"/metering/meters/[0-9a-f-]{36}/$"))
    page.select_option("#id_customer", "acme-42")
    page.wait_for_url(re.compile(r"customer=acme-42"))
    expect(page.locator("#id_customer")).to_have_value("acme-42")
    expect(page.locator("#usage-chart")).to_be_visible()
    page.wait_for_function("window.Chart && Chart.getChart('usage-chart') !== undefined")
    # the day (Paris): 100 (eu) + 23 (us) = 123, the ap event filtered out; the next day: 7
    table = page.get_by_test_id("daily-usage")
    assert table.locator(f'tr[data-day="{day.isoformat()}"] td.num').inner_text() == "123"
    next_day = (day + timedelta(days=1)).isoformat()
    assert table.locator(f'tr[data-day="{next_day}"] td.num').inner_text() == "7"
    assert page.get_by_test_id("window-total").inner_text() == "130"
    bars = page.evaluate("Chart.getChart('usage-chart').data.datasets[0].data")
    assert sorted(bars, reverse=True)[:3] == [123, 7, 0]
    page.screenshot(path=str(artifacts / "meter-detail.png"), full_page=True)


@pytest.fixture
def warehouse(settings):
    """The tenant's warehouse, with yesterday's three rows (the last one refused)."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # the "tenant's" database is local
    with warehouse_database(*rows_of_yesterday()) as name:
        yield name


def test_a_data_source_is_defined_tested_previewed_and_synced(
    live_server, finance, tenant, warehouse, artifacts
):
    page = finance
    page.goto(f"{live_server.url}/metering/")
    page.get_by_role("link", name="Data sources").first.click()
    page.get_by_role("link", name="New data source").first.click()
    form = source_form(warehouse)
    for name in ("name", "settings", "query", "mapping", "cursor_field", "interval_minutes"):
        page.fill(f"#id_{name}", form[name])
    page.screenshot(path=str(artifacts / "source-form.png"), full_page=True)
    page.get_by_role("button", name="Create data source").click()
    page.wait_for_url(re.compile(r"/metering/sources/[0-9a-f-]{36}/$"))
    assert SOURCE_PASSWORD not in page.content()

    # Test and preview answer in place (htmx), storing nothing.
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Connection works.")
    page.get_by_role("button", name="Preview mapping").click()
    expect(page.get_by_test_id("preview-row")).to_have_count(3)
    assert "column 'account' is empty" in page.get_by_test_id("preview-row").nth(2).inner_text()
    page.screenshot(path=str(artifacts / "source-preview.png"), full_page=True)
    with tenant.context():
        assert not Event.objects.filter(organization=tenant.organization).exists()

    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Sync finished: read 3 rows, stored 2 events, 0 duplicates, 1 rejected."
    )
    expect(page.get_by_test_id("sync-run")).to_have_count(1)
    assert "succeeded" in page.get_by_test_id("sync-run").inner_text()
    page.screenshot(path=str(artifacts / "source-detail.png"), full_page=True)
    page.get_by_role("link", name="Data sources").first.click()
    expect(page.get_by_test_id("source-row")).to_have_count(1)
    page.screenshot(path=str(artifacts / "source-list.png"), full_page=True)
