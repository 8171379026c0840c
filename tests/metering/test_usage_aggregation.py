"""Meters aggregate in SQL: every aggregation, filters, group-by, buckets and period bounds.
Expected quantities are worked out by hand from the events listed in each test."""

from datetime import datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from metering import selectors, services

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


@pytest.fixture
def period():
    """[start, end): a two-day window ending an hour ago."""
    end = (timezone.now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=2), end


def _send(tenant, rows):
    """rows: (event_id, customer, name, timestamp, properties)."""
    events = [
        {"event_id": i, "customer": c, "event_name": n, "timestamp": t.isoformat(),
         "properties": p}
        for i, c, n, t, p in rows
    ]
    with tenant.context():
        result = services.events_ingest(organization=tenant.organization, events=events)
    assert result.rejected == [] and result.accepted == len(rows)


def _meter(tenant, **fields):
    with tenant.context():
        return services.meter_create(organization=tenant.organization, **fields)


def _q(tenant, meter, start, end, **kwargs):
    with tenant.context():
        rows = selectors.usage(organization=tenant.organization, meter=meter, start=start,
                               end=end, **kwargs)
    return rows


@pytest.fixture
def llm_usage(tenant, period):
    start, end = period
    h = timedelta(hours=1)
    _send(tenant, [
        ("1", "acme", "llm", start, {"tokens": {"output": 100}, "model": "small", "region": "eu"}),
        ("2", "acme", "llm", start + h, {"tokens": {"output": 250}, "model": "large", "region": "us"}),
        ("3", "acme", "llm", start + 2 * h, {"tokens": {"output": "50"}, "model": "small", "region": "eu"}),
        ("4", "acme", "llm", start + 25 * h, {"tokens": {"output": 400}, "model": "large", "region": "eu"}),
        ("5", "acme", "llm", start + 26 * h, {"model": "small"}),  # no value
        ("6", "globex", "llm", start + h, {"tokens": {"output": 1000}, "model": "small"}),
        ("7", "acme", "other", start + h, {"tokens": {"output": 7}}),  # another event name
        ("8", "acme", "llm", end, {"tokens": {"output": 9999}}),  # exactly at end: outside
        ("9", "acme", "llm", start - timedelta(microseconds=1), {"tokens": {"output": 8888}}),
    ])
    return start, end


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("count", D(5)),  # acme's llm events inside [start, end): 1, 2, 3, 4, 5
        ("sum", D(800)),  # 100 + 250 + 50 ("50" is a number spelled as a string) + 400
        ("max", D(400)),
        ("min", D(50)),
        ("average", D(200)),  # 800 / 4 events with a value
        ("unique_count", D(4)),  # 100, 250, 50, 400 (event 5 has none: NULL is not counted)
        ("latest", D(400)),  # event 4 is the latest with a value (event 5 has none)
    ],
)
def test_each_aggregation(tenant, llm_usage, aggregation, expected):
    start, end = llm_usage
    meter = _meter(tenant, key=f"m-{aggregation}", name="LLM", event_name="llm",
                   aggregation=aggregation,
                   value_property="" if aggregation == "count" else "$.tokens.output")
    [row] = _q(tenant, meter, start, end, customer="acme")
    assert row.quantity == expected


def test_filters_equals_in_and_not_in(tenant, llm_usage):
    start, end = llm_usage
    large = _meter(tenant, key="large", name="L", event_name="llm", aggregation="sum",
                   value_property="$.tokens.output",
                   filters=[{"property": "$.model", "op": "equals", "value": "large"}])
    assert _q(tenant, large, start, end, customer="acme")[0].quantity == D(650)  # 250 + 400
    eu = _meter(tenant, key="eu", name="EU", event_name="llm", aggregation="count",
                filters=[{"property": "$.region", "op": "in", "value": ["eu", "uk"]}])
    assert _q(tenant, eu, start, end, customer="acme")[0].quantity == D(3)  # events 1, 3, 4
    not_eu = _meter(tenant, key="not-eu", name="!EU", event_name="llm", aggregation="count",
                    filters=[{"property": "$.region", "op": "not_in", "value": ["eu"]}])
    # event 2 (us) and event 5 (no region at all is "not in eu")
    assert _q(tenant, not_eu, start, end, customer="acme")[0].quantity == D(2)


def test_group_by_gives_one_quantity_per_group(tenant, llm_usage):
    start, end = llm_usage
    meter = _meter(tenant, key="by-model", name="by model", event_name="llm",
                   aggregation="sum", value_property="$.tokens.output", group_by=["$.model"])
    rows = _q(tenant, meter, start, end, customer="acme", group=True)
    assert [(r.group, r.quantity) for r in rows] == [
        ({"$.model": "large"}, D(650)),  # 250 + 400
        ({"$.model": "small"}, D(150)),  # 100 + 50 (+ event 5 without a value: sum unaffected)
    ]


def test_daily_buckets_in_a_time_zone(tenant, period):
    start, end = period
    # In UTC: 23:30 on the first day and 00:30 on the next fall in different days; in
    # Berlin (UTC+1 in winter, +2 in summer) both are on the second day.
    day = start.astimezone(UTC).replace(hour=23, minute=30, second=0, microsecond=0)
    if day + timedelta(hours=1) >= end:
        day -= timedelta(days=1)
    if day < start:
        day += timedelta(days=1)
    _send(tenant, [("a", "acme", "ping", day, {}), ("b", "acme", "ping", day + timedelta(hours=1), {})])
    meter = _meter(tenant, key="pings", name="Pings", event_name="ping", aggregation="count")
    utc_rows = _q(tenant, meter, start, end, customer="acme", granularity="day")
    assert [r.quantity for r in utc_rows] == [D(1), D(1)]
    berlin = _q(tenant, meter, start, end, customer="acme", granularity="day",
                time_zone="Europe/Berlin")
    assert [r.quantity for r in berlin] == [D(2)]
    assert berlin[0].bucket == datetime.combine((day + timedelta(hours=1)).date(),
                                                datetime.min.time())


def test_the_bulk_query_answers_for_every_customer_at_once(tenant, llm_usage):
    start, end = llm_usage
    meter = _meter(tenant, key="sum-all", name="LLM", event_name="llm", aggregation="sum",
                   value_property="$.tokens.output")
    with tenant.context():
        rows = selectors.usage_by_customer(organization=tenant.organization, meter=meter,
                                           start=start, end=end)
    assert [(r.customer, r.quantity) for r in rows] == [("acme", D(800)), ("globex", D(1000))]


def test_no_events_gives_zero_for_sums_and_counts(tenant, period):
    start, end = period
    total = _meter(tenant, key="s", name="s", event_name="none", aggregation="sum",
                   value_property="$.v")
    peak = _meter(tenant, key="p", name="p", event_name="none", aggregation="max",
                  value_property="$.v")
    assert _q(tenant, total, start, end, customer="acme")[0].quantity == D(0)
    assert _q(tenant, peak, start, end, customer="acme")[0].quantity is None


def test_usage_api_answers_with_quantities(tenant, llm_usage):
    start, end = llm_usage
    _meter(tenant, key="tokens", name="Tokens", event_name="llm", aggregation="sum",
           value_property="$.tokens.output")
    response = tenant.client().get(
        "/api/v1/usage", {"meter": "tokens", "customer": "acme", "start": start.isoformat(),
                          "end": end.isoformat()})
    assert response.status_code == 200, response.json()
    assert response.json()["rows"] == [
        {"customer": "acme", "group": None, "bucket": None, "quantity": "800"}
    ]
    missing = tenant.client().get("/api/v1/usage", {"meter": "nope", "start": start.isoformat(),
                                                     "end": end.isoformat()})
    assert missing.json()["error"]["fields"] == {"meter": ["No meter has key 'nope'."]}


def test_another_organizations_events_are_not_counted(tenant, other_tenant, llm_usage):
    start, end = llm_usage
    meter = _meter(other_tenant, key="tokens", name="T", event_name="llm", aggregation="count")
    with other_tenant.context():
        rows = selectors.usage(organization=other_tenant.organization, meter=meter,
                               start=start, end=end, customer="acme")
    assert rows[0].quantity == D(0)


def test_meter_definitions_are_validated(tenant):
    response = tenant.client().post("/api/v1/meters", {
        "key": "bad", "name": "Bad", "event_name": "x", "aggregation": "sum",
        "filters": [{"property": "region", "op": "like", "value": "eu"}],
        "group_by": ["$.ok", "nope"],
    }, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "value_property": ["A sum meter needs the value's property."],
        "filters[0].property": [
            "'region' is not a property path like $.tokens.output (letters, digits, _ and -)."
        ],
        "filters[0].op": ["Must be one of equals, in, not_in."],
        "group_by[1]": [
            "'nope' is not a property path like $.tokens.output (letters, digits, _ and -)."
        ],
    }


@pytest.mark.parametrize("method", ["get", "patch"])
def test_another_organizations_meter_is_404(tenant, other_tenant, method):
    meter = _meter(other_tenant, key="theirs", name="Theirs", event_name="x",
                   aggregation="count")
    response = getattr(tenant.client(), method)(f"/api/v1/meters/{meter.id}",
                                                {"name": "hijacked"}, format="json")
    assert response.status_code == 404
    with other_tenant.context():
        meter.refresh_from_db()
    assert meter.name == "Theirs"
    assert tenant.client().get("/api/v1/meters").json()["results"] == []
    # and its usage cannot be asked for by key either
    usage = tenant.client().get("/api/v1/usage", {"meter": "theirs", "start": "2026-01-01T00:00Z",
                                                  "end": "2026-02-01T00:00Z"})
    assert usage.status_code == 400
