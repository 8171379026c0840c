"""Dashboard pages for usage -- meters, usage by day, the live tail and data sources -- through
Django's test client. Data sources are tested against a real PostgreSQL database playing the
tenant's warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from metering import services, sync
from metering.models import DataSource, Event, Meter, SyncRun
from tests.support.factories import CustomerFactory
from tests.support.metering import (
    SOURCE_PASSWORD,
    rows_of_yesterday,
    source_form,
    warehouse_database,
)
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def acme(tenant):
    """A customer of the contracts app, billed in New York's time zone."""
    return CustomerFactory(organization=tenant.organization, external_id="acme-42",
                           name="Acme Corp", time_zone="America/New_York")


@pytest.fixture
def tokens_meter(tenant):
    """Sum of $.tokens over llm_call events from the eu region."""
    with tenant.context():
        return services.meter_create(
            organization=tenant.organization, key="eu_tokens", name="EU tokens",
            event_name="llm_call", aggregation="sum", value_property="$.tokens",
            filters=[{"property": "$.region", "op": "equals", "value": "eu"}],
            group_by=["$.model"],
        )


def ingest(tenant, *events, now=None):
    with tenant.context():
        result = services.events_ingest(organization=tenant.organization, events=list(events),
                                        now=now)
    assert result.rejected == [] and result.accepted == len(events)


def event(event_id, at: datetime, *, customer="acme-42", name="llm_call", **properties):
    return {"event_id": event_id, "customer": customer, "event_name": name,
            "timestamp": at.isoformat(), "properties": properties}


def meters(tenant):
    with tenant.context():
        return list(Meter.objects.filter(organization=tenant.organization)
                    .values_list("key", "name", "event_name", "aggregation", "value_property",
                                 "filters", "group_by"))


METER_FORM = {
    "key": "api_calls", "name": "API calls", "description": "Calls to the public API",
    "event_name": "api_call", "aggregation": "count", "value_property": "",
    "filters": '[{"property": "$.status", "op": "in", "value": [200, 201]}]',
    "group_by": "$.region, $.plan",
}


# --- Meters -----------------------------------------------------------------------------------


def test_a_meter_is_created_through_the_form(client, tenant, signed_in):
    signed_in()
    form = client.get("/metering/meters/new/").content.decode()
    assert 'name="filters"' in form and 'name="group_by"' in form

    response = client.post("/metering/meters/new/", METER_FORM, follow=True)

    assert meters(tenant) == [(
        "api_calls", "API calls", "api_call", "count", "",
        [{"property": "$.status", "op": "in", "value": [200, 201]}], ["$.region", "$.plan"],
    )]
    with tenant.context():
        meter = Meter.objects.get(organization=tenant.organization)
    assert response.redirect_chain[-1][0] == f"/metering/meters/{meter.id}/"
    page = response.content.decode()
    assert "Meter API calls created." in page
    assert "Counts events named “api_call” where $.status in [200, 201], by $.region, " \
           "$.plan." in page
    # and it is listed on the overview
    overview = client.get("/metering/").content.decode()
    assert f'href="/metering/meters/{meter.id}/"><code>api_calls</code>' in overview


def test_a_bad_filter_is_shown_under_the_filters_input_and_nothing_is_saved(
    client, tenant, signed_in
):
    signed_in()
    response = client.post("/metering/meters/new/", {
        **METER_FORM, "aggregation": "sum", "value_property": "tokens",
        "filters": '[{"property": "$.region", "op": "equals", "value": "eu"}, '
                   '{"property": "$.plan", "op": "like", "value": "pro"}]',
        "group_by": "$.region, region",
    })

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["filters"] == ["#2 › op: Must be one of equals, in, not_in."]
    assert errors["value_property"] == [
        "'tokens' is not a property path like $.tokens.output (letters, digits, _ and -)."
    ]
    assert errors["group_by"] == [
        "#2: 'region' is not a property path like $.tokens.output (letters, digits, _ and -)."
    ]
    page = response.content.decode()
    assert '<div class="field-error">#2 › op: Must be one of equals, in, not_in.</div>' in page
    assert "The meter was not saved" in page
    assert "like" in page  # what was typed is kept for correction
    assert meters(tenant) == []

    broken = client.post("/metering/meters/new/", {**METER_FORM, "filters": "[{"})
    assert broken.context["form"].errors["filters"] == [
        "Not valid JSON: Expecting property name enclosed in double quotes (line 1, column 3)."
    ]
    assert meters(tenant) == []


def test_editing_a_meter_keeps_its_key(client, tenant, tokens_meter, signed_in):
    signed_in()
    page = client.get(f"/metering/meters/{tokens_meter.id}/edit/").content.decode()
    assert 'value="eu_tokens"' in page and "disabled" in page
    assert "&quot;op&quot;: &quot;equals&quot;" in page  # the filters, as JSON to edit

    response = client.post(f"/metering/meters/{tokens_meter.id}/edit/", {
        "key": "renamed", "name": "EU + US tokens", "event_name": "llm_call",
        "aggregation": "max", "value_property": "$.tokens",
        "filters": '[{"property": "$.region", "op": "in", "value": ["eu", "us"]}]',
        "group_by": "",
    })

    assert response.status_code == 302
    assert response["Location"] == f"/metering/meters/{tokens_meter.id}/"
    assert meters(tenant) == [(
        "eu_tokens", "EU + US tokens", "llm_call", "max", "$.tokens",
        [{"property": "$.region", "op": "in", "value": ["eu", "us"]}], [],
    )]


def test_the_meter_page_shows_a_customers_usage_by_day_in_their_time_zone(
    client, tenant, acme, tokens_meter, signed_in
):
    """acme-42 is billed in America/New_York: its days are New York days."""
    signed_in()
    day = timezone.now().astimezone(NEW_YORK).date() - timedelta(days=3)

    def ny(days: int, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute,
                        tzinfo=NEW_YORK) + timedelta(days=days)

    ingest(
        tenant,
        event("a1", ny(0, 10), tokens=100, region="eu", model="small"),
        # 23:30 in New York is already the next day in UTC: it counts on `day`
        event("a2", ny(0, 23, 30), tokens=20, region="eu", model="large"),
        event("a3", ny(1, 9), tokens=5, region="eu", model="small"),
        event("a4", ny(0, 13), tokens=3000, region="us"),  # filtered out
        event("a5", ny(0, 11), name="other", tokens=7, region="eu"),  # another event name
        event("b1", ny(0, 12), customer="initech-9", tokens=1000, region="eu"),
    )

    response = client.get(f"/metering/meters/{tokens_meter.id}/", {"customer": "acme-42"})

    assert response.status_code == 200
    context = response.context
    assert context["time_zone"] == "America/New_York"
    daily = {row["day"]: row["quantity"] for row in context["daily"]}
    assert len(daily) == 30  # the last 30 days by default, today included
    # day: 100 + 20 = 120; the next day: 5; every other day: 0
    assert (daily[day], daily[day + timedelta(days=1)]) == ("120", "5")
    assert set(daily.values()) == {"120", "5", "0"}
    assert context["window_total"] == "125"
    page = response.content.decode()
    assert f'<tr data-day="{day.isoformat()}"><td>{day:%a} {day.isoformat()}</td>' \
           f'<td class="num">120</td></tr>' in page
    assert 'id="usage-chart"' in page
    assert f'{{"date": "{day.isoformat()}", "quantity": "120"}}' in page  # json_script
    # the picker offers the customers with usage, the contract customer by name
    assert '<option value="acme-42" selected>Acme Corp · acme-42</option>' in page
    assert '<option value="initech-9">initech-9</option>' in page

    # every customer together, in UTC: a2 falls on the next UTC day
    response = client.get(f"/metering/meters/{tokens_meter.id}/",
                          {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()})
    daily = {row["day"]: row["quantity"] for row in response.context["daily"]}
    # day (UTC): a1 100 + b1 1,000 = 1,100; the next day: a2 20 + a3 5 = 25
    assert daily == {day: "1,100", day + timedelta(days=1): "25"}
    assert response.context["window_total"] == "1,125"

    # top customers this month (in the organization's zone, UTC)
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    acme = sum(t for at, t in ((ny(0, 10), 100), (ny(0, 23, 30), 20), (ny(1, 9), 5))
               if at >= month_start)
    initech = 1000 if ny(0, 12) >= month_start else 0
    expected = sorted(((q, c) for c, q in (("acme-42", acme), ("initech-9", initech)) if q),
                      reverse=True)
    assert [(row["id"], row["quantity"]) for row in response.context["top"]] == [
        (c, f"{q:,}") for q, c in expected
    ]


def test_a_meter_with_no_usage_and_a_bad_window_say_so(client, tenant, tokens_meter, signed_in):
    signed_in(Role.VIEWER)
    response = client.get(f"/metering/meters/{tokens_meter.id}/",
                          {"start": "2026-05-10", "end": "2026-05-01"})
    page = response.content.decode()
    assert "The window ends before it starts. Showing the last 30 days." in page
    assert "No usage of this meter in the window." in page
    assert 'id="usage-chart"' not in page
    assert len(response.context["daily"]) == 30
    assert "Edit meter" not in page  # a viewer reads only


# --- Overview and live tail -------------------------------------------------------------------


def test_the_overview_explains_how_to_start_when_there_is_nothing(client, tenant, signed_in):
    signed_in()
    page = client.get("/metering/").content.decode()
    assert "No meters yet" in page
    assert 'href="/metering/meters/new/"' in page
    assert "curl -X POST http://testserver/api/v1/events" in page
    assert "No events received yet." in page


def test_the_live_tail_lists_the_newest_event_first_and_flags_late_ones(
    client, tenant, signed_in
):
    signed_in(Role.VIEWER)
    now = timezone.now()
    with tenant.context():
        services.billed_through_set(organization=tenant.organization, customer="late-co",
                                    through=now - timedelta(days=1))
    ingest(tenant, event("old-1", now - timedelta(hours=3), customer="first-co", tokens=1),
           now=now - timedelta(seconds=20))
    ingest(tenant, event("new-1", now - timedelta(days=2), customer="late-co", tokens=2,
                         region="eu"), now=now - timedelta(seconds=5))

    overview = client.get("/metering/").content.decode()
    assert 'hx-get="/metering/tail/" hx-trigger="every 5s"' in overview

    response = client.get("/metering/tail/")
    page = response.content.decode()
    assert "<html" not in page  # a fragment for htmx to swap in
    assert page.count('data-testid="tail-event"') == 2
    assert page.index("late-co") < page.index("first-co")
    assert "region=eu tokens=2" in page  # in the order PostgreSQL keeps them
    late_row = page[page.index("late-co"):page.index("first-co")]
    assert ">late</span>" in late_row
    assert ">late</span>" not in page[page.index("first-co"):]
    assert '<div class="stat-value" id="events-24h" hx-swap-oob="true">2</div>' in page


# --- Data sources -----------------------------------------------------------------------------

@pytest.fixture
def warehouse(settings):
    """The tenant's warehouse, with yesterday's three rows (the last one refused)."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # it is on loopback
    with warehouse_database(*rows_of_yesterday()) as name:
        yield name


def make_source(tenant, dbname: str = "nowhere") -> DataSource:
    owner = django_settings.DATABASES["owner"]
    with tenant.context():
        return sync.data_source_create(
            organization=tenant.organization, name="Warehouse", kind="postgres",
            settings={"host": owner["HOST"], "port": int(owner["PORT"] or 5432),
                      "dbname": dbname, "user": owner["USER"], "password": SOURCE_PASSWORD},
            query={"sql": "SELECT id, account, calls, recorded_at FROM usage_rows"},
            mapping={"event_id": "id", "customer": "account", "timestamp": "recorded_at",
                     "event_name_value": "api_call", "properties": {"calls": "calls"}},
            cursor_field="id",
        )


def fresh(tenant, source: DataSource) -> DataSource:
    with tenant.context():
        source.refresh_from_db()
    return source


def stored_events(tenant) -> list[tuple]:
    with tenant.context():
        return list(Event.objects.filter(organization=tenant.organization).order_by("event_id")
                    .values_list("event_id", "customer", "properties"))


def test_a_source_is_created_through_the_form_and_its_settings_never_come_back(
    client, tenant, warehouse, signed_in
):
    signed_in()
    response = client.post("/metering/sources/new/", source_form(warehouse), follow=True)

    with tenant.context():
        source = DataSource.objects.get(organization=tenant.organization)
    assert response.redirect_chain[-1][0] == f"/metering/sources/{source.id}/"
    assert (source.name, source.kind, source.cursor_field, source.interval_minutes) == (
        "Warehouse", "postgres", "id", 30
    )
    assert SOURCE_PASSWORD.encode() not in bytes(source.encrypted_settings)
    pages = [response, client.get("/metering/sources/"),
             client.get(f"/metering/sources/{source.id}/"),
             client.get(f"/metering/sources/{source.id}/edit/")]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert SOURCE_PASSWORD not in text
        assert warehouse not in text  # no part of the settings: not even the database name
    assert "Leave empty to keep the stored settings." in pages[-1].content.decode()

    # an error elsewhere does not echo the settings that were typed either
    again = client.post("/metering/sources/new/", source_form(warehouse, cursor_field=""))
    assert again.context["form"].errors == {"cursor_field": ["This field is required."]}
    assert SOURCE_PASSWORD not in again.content.decode()


def test_the_services_errors_land_on_their_inputs(client, tenant, signed_in):
    signed_in()
    response = client.post("/metering/sources/new/", source_form(
        "db", settings='{"host": "", "dbname": "db", "user": "reader"}',
        mapping='{"event_id": "id", "timestamp": "at", "event_name_value": "x"}',
    ))
    errors = response.context["form"].errors
    assert errors["settings"] == ["host: Required (text)."]
    assert errors["mapping"] == ["customer: Required: the column that holds it."]
    with tenant.context():
        assert not DataSource.objects.filter(organization=tenant.organization).exists()


def test_editing_a_source_with_empty_settings_keeps_the_stored_ones(
    client, tenant, warehouse, signed_in
):
    signed_in()
    source = make_source(tenant, warehouse)
    before = bytes(source.encrypted_settings)
    response = client.post(f"/metering/sources/{source.id}/edit/", {
        **source_form(warehouse), "settings": "", "name": "Main warehouse",
        "interval_minutes": "15", "kind": "mongodb",  # the kind cannot change
    })
    assert response.status_code == 302
    fresh(tenant, source)
    assert (source.name, source.kind, source.interval_minutes) == (
        "Main warehouse", "postgres", 15
    )
    assert bytes(source.encrypted_settings) == before


def test_test_preview_and_sync_buttons_work_against_a_real_database(
    client, tenant, warehouse, signed_in
):
    signed_in()
    source = make_source(tenant, warehouse)

    test = client.post(f"/metering/sources/{source.id}/test/")
    assert test.context["test"] == {"ok": True,
                                    "message": "Connected to PostgreSQL; the query works."}
    assert "Connection works." in test.content.decode()

    # htmx asks for the result only
    preview = client.post(f"/metering/sources/{source.id}/preview/", HTTP_HX_REQUEST="true")
    page = preview.content.decode()
    assert "<html" not in page
    rows = preview.context["preview"]["rows"]
    assert [(r["event"] or {}).get("customer") for r in rows] == ["acme-42", "acme-42", None]
    assert rows[0]["event"]["event_id"] == f"{source.id}:1"
    assert rows[0]["properties"] == "calls=10"
    assert rows[2]["errors"] == {"customer": ["column 'account' is empty"]}
    assert "refused" in page
    assert stored_events(tenant) == []  # a preview stores nothing
    with tenant.context():
        assert not SyncRun.objects.filter(organization=tenant.organization).exists()
    fresh(tenant, source)
    assert source.watermark is None

    response = client.post(f"/metering/sources/{source.id}/sync/", follow=True)
    page = response.content.decode()
    assert "Sync finished: read 3 rows, stored 2 events, 0 duplicates, 1 rejected." in page
    assert stored_events(tenant) == [(f"{source.id}:1", "acme-42", {"calls": 10}),
                                     (f"{source.id}:2", "acme-42", {"calls": 5})]
    [entry] = response.context["runs"]
    assert (entry["run"].status, entry["before"], entry["after"]) == ("succeeded", "start", "3")
    assert '<span class="badge run-succeeded">succeeded</span>' in page
    assert "1 rows rejected; the first: row at 3:" in page  # the error block
    assert SOURCE_PASSWORD not in page

    listing = client.get("/metering/sources/").content.decode()
    assert '<span class="badge run-succeeded">succeeded</span>' in listing

    client.post(f"/metering/sources/{source.id}/enabled/", {"enabled": "0"})
    fresh(tenant, source)
    assert source.enabled is False
    client.post(f"/metering/sources/{source.id}/enabled/", {"enabled": "0"})  # twice: no-op
    fresh(tenant, source)
    assert source.enabled is False


def test_a_failed_sync_shows_its_readable_error(client, tenant, warehouse, signed_in):
    signed_in()
    source = make_source(tenant, "no_such_database_here")
    response = client.post(f"/metering/sources/{source.id}/sync/", follow=True)
    page = response.content.decode()
    assert "database &quot;no_such_database_here&quot; does not exist" in page
    assert '<span class="badge run-failed">failed</span>' in page
    assert SOURCE_PASSWORD not in page
    fresh(tenant, source)
    assert source.failures == 1


# --- Roles and tenants ------------------------------------------------------------------------


def test_a_viewer_reads_but_every_write_is_refused(client, tenant, tokens_meter, signed_in):
    signed_in(Role.VIEWER)
    source = make_source(tenant)
    for path in ("/metering/", "/metering/tail/", f"/metering/meters/{tokens_meter.id}/",
                 "/metering/sources/", f"/metering/sources/{source.id}/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "New meter" not in page.content.decode()
    assert "Sync now" not in client.get(f"/metering/sources/{source.id}/").content.decode()

    writes = [
        ("/metering/meters/new/", METER_FORM),
        (f"/metering/meters/{tokens_meter.id}/edit/", {**METER_FORM, "name": "Hacked"}),
        ("/metering/sources/new/", source_form("db")),
        (f"/metering/sources/{source.id}/edit/", {**source_form("db"), "name": "Hacked"}),
        (f"/metering/sources/{source.id}/test/", {}),
        (f"/metering/sources/{source.id}/preview/", {}),
        (f"/metering/sources/{source.id}/sync/", {}),
        (f"/metering/sources/{source.id}/enabled/", {"enabled": "0"}),
    ]
    for path, data in writes:
        assert client.post(path, data).status_code == 403, path
    assert client.get("/metering/meters/new/").status_code == 403
    assert [m[0:2] for m in meters(tenant)] == [("eu_tokens", "EU tokens")]
    with tenant.context():
        assert list(DataSource.objects.values_list("name", "enabled")) == [("Warehouse", True)]
        assert not SyncRun.objects.exists()


def test_another_organizations_meters_and_sources_are_not_found(
    client, tenant, other_tenant, signed_in
):
    signed_in()
    with other_tenant.context():
        theirs = services.meter_create(organization=other_tenant.organization, key="secret",
                                       name="Globex secret", event_name="x",
                                       aggregation="count")
    their_source = make_source(other_tenant)

    assert "Globex secret" not in client.get("/metering/").content.decode()
    assert "Warehouse" not in client.get("/metering/sources/").content.decode()
    for path in (f"/metering/meters/{theirs.id}/", f"/metering/meters/{theirs.id}/edit/",
                 f"/metering/sources/{their_source.id}/",
                 f"/metering/sources/{their_source.id}/edit/"):
        assert client.get(path).status_code == 404, path
    for path, data in (
        (f"/metering/meters/{theirs.id}/edit/", {**METER_FORM, "name": "Hacked"}),
        (f"/metering/sources/{their_source.id}/edit/", {**source_form("db"), "name": "Hacked"}),
        (f"/metering/sources/{their_source.id}/test/", {}),
        (f"/metering/sources/{their_source.id}/preview/", {}),
        (f"/metering/sources/{their_source.id}/sync/", {}),
        (f"/metering/sources/{their_source.id}/enabled/", {"enabled": "0"}),
    ):
        assert client.post(path, data).status_code == 404, path
    with other_tenant.context():
        assert Meter.objects.get(id=theirs.id).name == "Globex secret"
        source = DataSource.objects.get(id=their_source.id)
        assert (source.name, source.enabled) == ("Warehouse", True)
        assert not SyncRun.objects.exists()


def test_a_recurring_seat_meter_through_the_form_and_its_page(client, tenant, signed_in, clock):
    signed_in()
    response = client.post("/metering/meters/new/", {
        **METER_FORM, "key": "seats", "name": "Seats", "event_name": "seats_changed",
        "aggregation": "weighted_sum", "value_property": "$.seats", "recurring": "on",
        "filters": "", "group_by": ""}, follow=True)
    with tenant.context():
        meter = Meter.objects.get(organization=tenant.organization, key="seats")
    assert (meter.aggregation, meter.recurring) == ("weighted_sum", True)
    now = clock.at(datetime(2026, 11, 30, 12, tzinfo=UTC))
    ingest(tenant, {"event_id": "s1", "customer": "acme-42", "event_name": "seats_changed",
                    "timestamp": "2026-11-10T00:00:00Z", "properties": {"seats": 4}})
    assert now.day == 30
    response = client.get(f"/metering/meters/{meter.id}/",
                          {"start": "2026-11-20", "end": "2026-11-29"})
    # 4 seats held all 10 days of the window (the event came before it): 4
    assert response.context["window_total"] == "4"
    page = response.content.decode()
    assert 'data-testid="recurring-note"' in page and 'data-testid="daily-usage"' not in page
    # a weighted sum must be recurring: the form says so on the field
    response = client.post("/metering/meters/new/", {
        **METER_FORM, "key": "seats2", "aggregation": "weighted_sum",
        "value_property": "$.seats", "filters": "", "group_by": ""})
    assert "recurring" in response.context["form"].errors
