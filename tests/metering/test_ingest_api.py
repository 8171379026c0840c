"""Pushing usage: single and batch ingestion, per-event rejections, duplicates, isolation."""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from metering.models import Event
from tests.support import COMMITTING
from tests.support.concurrency import at_once


def _at(minutes_ago=10):
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


def _event(event_id, customer="cus-1", name="api_call", **properties):
    return {"event_id": event_id, "customer": customer, "event_name": name,
            "timestamp": _at(), "properties": properties}


def _stored(tenant):
    with tenant.context():
        return sorted(Event.objects.values_list("event_id", flat=True))


@pytest.mark.django_db
def test_one_event_is_stored_and_a_resend_is_a_duplicate(tenant):
    client = tenant.client()
    first = client.post("/api/v1/events", _event("e-1", tokens=12), format="json")
    assert first.status_code == 201
    assert first.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    again = client.post("/api/v1/events", _event("e-1", tokens=99), format="json")
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    with tenant.context():
        event = Event.objects.get()
    assert (event.event_id, event.properties) == ("e-1", {"tokens": 12})  # the first copy


@pytest.mark.django_db
def test_a_bad_single_event_is_refused_naming_its_fields(tenant):
    response = tenant.client().post(
        "/api/v1/events", {"event_id": "e-1", "customer": "c", "event_name": "x",
                           "timestamp": "yesterday", "properties": [1]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "timestamp": ["'yesterday' is not an ISO 8601 date and time"],
        "properties": ["must be a JSON object"],
    }
    assert _stored(tenant) == []


@pytest.mark.django_db
def test_a_batch_stores_the_good_events_and_reports_each_bad_one(tenant):
    now = timezone.now()
    events = [
        _event("b-0"),
        {"customer": "c", "event_name": "x", "timestamp": _at()},               # 1: no id
        _event("b-2") | {"timestamp": (now + timedelta(minutes=6)).isoformat()},  # 2: future
        _event("b-3") | {"timestamp": (now - timedelta(days=91)).isoformat()},    # 3: too old
        _event("b-4") | {"timestamp": "2026-11-27T10:00:00"},                     # 4: naive
        _event("b-5") | {"properties": "tokens=5"},                               # 5: not object
        "not an event",                                                           # 6
        _event("b-7") | {"properties": {"blob": "x" * 40_000}},                   # 7: too large
        _event("b-0"),                                                            # 8: dup in batch
        _event("b-9") | {"timestamp": (now + timedelta(minutes=4)).isoformat()},  # 9: within 5 min
    ]
    response = tenant.client().post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 1)  # b-0, b-9; the second b-0
    assert body["rejected"] == [
        {"index": 1, "event_id": None, "errors": {"event_id": ["is required"]}},
        {"index": 2, "event_id": "b-2",
         "errors": {"timestamp": ["is more than 5 minutes in the future"]}},
        {"index": 3, "event_id": "b-3",
         "errors": {"timestamp": ["is older than the accepted window of 90 days"]}},
        {"index": 4, "event_id": "b-4",
         "errors": {"timestamp": ["must include a time zone (Z or an offset such as +01:00)"]}},
        {"index": 5, "event_id": "b-5", "errors": {"properties": ["must be a JSON object"]}},
        {"index": 6, "event_id": None, "errors": {"event": ["must be a JSON object"]}},
        {"index": 7, "event_id": "b-7", "errors": {"properties": ["are larger than 32 KiB"]}},
    ]
    assert _stored(tenant) == ["b-0", "b-9"]


@pytest.mark.django_db
def test_a_body_that_is_not_json_or_too_large_stores_nothing(tenant, settings):
    client = tenant.client()
    broken = client.post("/api/v1/events/batch", data=b'{"events": [', content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request"

    settings.EVENTS_MAX_BODY_BYTES = 1000
    big = {"events": [_event(f"big-{i}") for i in range(20)]}
    too_large = client.post("/api/v1/events/batch", data=orjson.dumps(big),
                            content_type="application/json")
    assert too_large.status_code == 413
    assert _stored(tenant) == []


@pytest.mark.django_db
def test_a_batch_over_ten_thousand_events_is_refused_whole(tenant):
    events = [_event(f"n-{i}") for i in range(10_001)]
    response = tenant.client().post("/api/v1/events/batch", data=orjson.dumps({"events": events}),
                                    content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "events": ["At most 10000 events per batch; got 10001."]
    }
    assert _stored(tenant) == []


@pytest.mark.django_db
def test_events_for_unknown_customers_are_kept(tenant):
    response = tenant.client().post("/api/v1/events", _event("u-1", customer="not-yet-a-customer"),
                                    format="json")
    assert response.status_code == 201
    with tenant.context():
        assert Event.objects.get().customer == "not-yet-a-customer"


@pytest.mark.django_db
def test_event_ids_are_unique_per_organization_only(tenant, other_tenant):
    assert tenant.client().post("/api/v1/events", _event("same"), format="json").status_code == 201
    other = other_tenant.client().post("/api/v1/events", _event("same"), format="json")
    assert other.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert _stored(tenant) == ["same"] and _stored(other_tenant) == ["same"]
    listed = tenant.client().get("/api/v1/events").json()["results"]
    assert len(listed) == 1


@pytest.mark.django_db
def test_a_viewer_key_cannot_send_events(tenant):
    response = tenant.client("viewer").post("/api/v1/events", _event("v-1"), format="json")
    assert response.status_code == 403
    assert _stored(tenant) == []


@COMMITTING
def test_two_requests_sending_the_same_events_at_once_store_each_once(tenant):
    client = tenant.client()
    batch = {"events": [_event(f"c-{i}") for i in range(500)]}

    def send():
        return client.post("/api/v1/events/batch", batch, format="json").json()

    bodies = at_once(send, send, timeout=60)

    assert sorted((b["accepted"], b["duplicates"]) for b in bodies) == [(0, 500), (500, 0)]
    with tenant.context():
        assert Event.objects.count() == 500


@pytest.mark.django_db
def test_a_late_event_for_an_invoiced_period_is_flagged_for_adjustment(tenant):
    from metering.services import billed_through_set

    invoiced_through = timezone.now() - timedelta(days=2)
    with tenant.context():
        billed_through_set(organization=tenant.organization, customer="cus-1",
                           through=invoiced_through)
    early = (invoiced_through - timedelta(hours=3)).isoformat()  # inside the invoiced period
    late_batch = {"events": [
        _event("late-1") | {"timestamp": early},                   # cus-1, invoiced: flagged
        _event("late-2", customer="cus-2") | {"timestamp": early},  # cus-2 not invoiced yet
        _event("late-3"),                                          # cus-1, after: not flagged
    ]}
    body = tenant.client().post("/api/v1/events/batch", late_batch, format="json").json()
    assert body["accepted"] == 3
    with tenant.context():
        flagged = dict(Event.objects.values_list("event_id", "needs_adjustment"))
    assert flagged == {"late-1": True, "late-2": False, "late-3": False}
