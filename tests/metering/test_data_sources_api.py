"""The data-source endpoints of the REST API: credentials are write-only, errors name their
fields, test/preview/sync run against a real PostgreSQL database playing the tenant's
warehouse, and another organization's sources are not found."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from metering.models import DataSource, Event, SyncRun
from tests.support.metering import SOURCE_PASSWORD, warehouse_database
from zenskar.crypto import decrypt_json
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

MAPPING = {"event_id": "id", "customer": "account", "timestamp": "recorded_at",
           "event_name_value": "api_call", "properties": {"calls": "calls"}}
QUERY = {"sql": "SELECT id, account, calls, recorded_at FROM usage_rows"}
SHOWN = {"id", "name", "kind", "query", "mapping", "cursor_field", "watermark",
         "interval_minutes", "enabled", "next_run_at", "failures", "created_at", "updated_at"}


@pytest.fixture
def base():
    return (timezone.now() - timedelta(days=1)).replace(microsecond=0)


@pytest.fixture
def warehouse(settings, base):
    """The tenant's warehouse, with three usage rows a minute apart."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # it is on loopback
    with warehouse_database(("acme-1", 10, base), ("acme-2", 20, base + timedelta(minutes=1)),
                            ("acme-1", 5, base + timedelta(minutes=2))) as name:
        yield name


def body(dbname: str = "warehouse", **overrides) -> dict:
    owner = django_settings.DATABASES["owner"]
    settings = {"host": owner["HOST"], "port": int(owner["PORT"] or 5432), "dbname": dbname,
                "user": owner["USER"], "password": SOURCE_PASSWORD}
    return {"name": "Warehouse", "kind": "postgres", "settings": settings, "query": QUERY,
            "mapping": MAPPING, "cursor_field": "id", "interval_minutes": 30, **overrides}


def create(tenant, dbname: str = "warehouse", **overrides) -> dict:
    response = tenant.client().post("/api/v1/data-sources", body(dbname, **overrides),
                                    format="json")
    assert response.status_code == 201, response.content
    return response.json()


def events(tenant) -> list[tuple]:
    with tenant.context():
        return list(Event.objects.filter(organization=tenant.organization).order_by("event_id")
                    .values_list("event_id", "customer", "event_name", "timestamp",
                                 "properties"))


def test_a_source_is_created_and_its_settings_never_come_back(tenant):
    client = tenant.client()
    response = client.post("/api/v1/data-sources", body(), format="json")

    assert response.status_code == 201
    created = response.json()
    assert set(created) == SHOWN
    assert (created["name"], created["kind"], created["cursor_field"],
            created["interval_minutes"], created["enabled"], created["failures"],
            created["watermark"]) == ("Warehouse", "postgres", "id", 30, True, 0, None)
    assert (created["query"], created["mapping"]) == (QUERY, MAPPING)
    source_id = created["id"]

    answers = [
        response,
        client.get("/api/v1/data-sources"),
        client.get(f"/api/v1/data-sources/{source_id}"),
        client.patch(f"/api/v1/data-sources/{source_id}",
                     {"settings": {"password": "an-0ther-Secret"}, "name": "Main"},
                     format="json"),
        client.get(f"/api/v1/data-sources/{source_id}/runs"),
    ]
    for answer in answers:
        assert answer.status_code == 200 or answer is response
        text = answer.content.decode()
        assert SOURCE_PASSWORD not in text and "an-0ther-Secret" not in text
        assert '"settings"' not in text
    assert [s["id"] for s in answers[1].json()["results"]] == [source_id]
    assert set(answers[2].json()) == SHOWN

    with tenant.context():
        source = DataSource.objects.get(id=source_id, organization=tenant.organization)
    assert source.name == "Main"
    stored = bytes(source.encrypted_settings)
    assert b"an-0ther-Secret" not in stored and SOURCE_PASSWORD.encode() not in stored
    assert b"warehouse" not in stored  # the whole document is encrypted, not just the password
    # the PATCH merged the new password into the stored settings
    assert decrypt_json(stored) == {**body()["settings"], "password": "an-0ther-Secret"}


def test_validation_errors_name_their_fields_and_nothing_is_written(tenant):
    client = tenant.client()
    response = client.post("/api/v1/data-sources", body(
        settings={"host": "", "dbname": "db", "user": "reader", "port": "5432"},
        query={"sql": "SELECT * FROM usage WHERE id > {cursor}"},
        mapping={"event_id": "id", "timestamp": "at", "event_name": "kind",
                 "event_name_value": "api_call"},
        interval_minutes=0,
    ), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["fields"] == {
        "settings.host": ["Required (text)."],
        "settings.port": ["Must be a positive whole number."],
        "query.sql": ["Write the query without a {cursor} placeholder: rows are filtered by "
                      "the cursor field automatically."],
        "mapping.customer": ["Required: the column that holds it."],
        "mapping.event_name": ["Give either event_name (a column) or event_name_value (a "
                               "constant name), not both."],
        "interval_minutes": ["Must be a whole number from 1 to 10080."],
    }

    missing = client.post("/api/v1/data-sources", {"name": "W"}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"kind", "settings", "query", "mapping",
                                                      "cursor_field"}
    wrong_kind = client.post("/api/v1/data-sources", body(kind="oracle"), format="json")
    assert wrong_kind.json()["error"]["fields"] == {"kind": ['"oracle" is not a valid choice.']}
    with tenant.context():
        assert not DataSource.objects.filter(organization=tenant.organization).exists()

    source = create(tenant)
    bad = client.patch(f"/api/v1/data-sources/{source['id']}",
                       {"name": "Renamed", "mapping": {"event_id": "id"}}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {
        "mapping.customer", "mapping.timestamp", "mapping.event_name"
    }
    assert client.get(f"/api/v1/data-sources/{source['id']}").json()["name"] == "Warehouse"


def test_test_preview_and_sync_against_a_real_database(tenant, warehouse, base):
    client = tenant.client()
    source = create(tenant, warehouse)
    sid = source["id"]

    test = client.post(f"/api/v1/data-sources/{sid}/test")
    assert test.status_code == 200
    assert test.json() == {"ok": True, "message": "Connected to PostgreSQL; the query works."}

    preview = client.post(f"/api/v1/data-sources/{sid}/preview")
    assert preview.status_code == 200
    assert preview.json() == {"ok": True, "rows": [
        {"row": {"id": 1, "account": "acme-1", "calls": 10, "recorded_at": base.isoformat()},
         "event": {"event_id": f"{sid}:1", "customer": "acme-1", "event_name": "api_call",
                   "timestamp": base.isoformat(), "properties": {"calls": 10}}},
        {"row": {"id": 2, "account": "acme-2", "calls": 20,
                 "recorded_at": (base + timedelta(minutes=1)).isoformat()},
         "event": {"event_id": f"{sid}:2", "customer": "acme-2", "event_name": "api_call",
                   "timestamp": (base + timedelta(minutes=1)).isoformat(),
                   "properties": {"calls": 20}}},
        {"row": {"id": 3, "account": "acme-1", "calls": 5,
                 "recorded_at": (base + timedelta(minutes=2)).isoformat()},
         "event": {"event_id": f"{sid}:3", "customer": "acme-1", "event_name": "api_call",
                   "timestamp": (base + timedelta(minutes=2)).isoformat(),
                   "properties": {"calls": 5}}},
    ]}
    # a preview stores nothing and moves nothing
    assert events(tenant) == []
    assert client.get(f"/api/v1/data-sources/{sid}/runs").json()["results"] == []
    assert client.get(f"/api/v1/data-sources/{sid}").json()["watermark"] is None

    sync = client.post(f"/api/v1/data-sources/{sid}/sync")
    assert sync.status_code == 200
    run = sync.json()
    assert {k: run[k] for k in ("status", "rows_read", "events_stored", "duplicates",
                                "rejected", "error", "cursor_before", "cursor_after")} == {
        "status": "succeeded", "rows_read": 3, "events_stored": 3, "duplicates": 0,
        "rejected": 0, "error": "", "cursor_before": None, "cursor_after": 3,
    }
    assert events(tenant) == [
        (f"{sid}:1", "acme-1", "api_call", base, {"calls": 10}),
        (f"{sid}:2", "acme-2", "api_call", base + timedelta(minutes=1), {"calls": 20}),
        (f"{sid}:3", "acme-1", "api_call", base + timedelta(minutes=2), {"calls": 5}),
    ]
    runs = client.get(f"/api/v1/data-sources/{sid}/runs").json()["results"]
    assert [(r["id"], r["status"], r["events_stored"]) for r in runs] == [
        (run["id"], "succeeded", 3)
    ]
    assert client.get(f"/api/v1/data-sources/{sid}").json()["watermark"] == 3

    # a second sync reads nothing new
    again = client.post(f"/api/v1/data-sources/{sid}/sync").json()
    assert (again["rows_read"], again["cursor_before"], again["cursor_after"]) == (0, 3, 3)
    assert len(client.get(f"/api/v1/data-sources/{sid}/runs").json()["results"]) == 2


def test_a_failing_connection_is_reported_without_the_password(tenant, warehouse):
    client = tenant.client()
    ghost = f"ghost_{uuid.uuid4().hex[:8]}"
    owner = django_settings.DATABASES["owner"]
    source = create(tenant, warehouse, settings={
        "host": owner["HOST"], "port": int(owner["PORT"] or 5432), "dbname": warehouse,
        "user": ghost, "password": SOURCE_PASSWORD,
    })
    sid = source["id"]

    test = client.post(f"/api/v1/data-sources/{sid}/test").json()
    assert test["ok"] is False
    assert f'role "{ghost}" does not exist' in test["message"]
    preview = client.post(f"/api/v1/data-sources/{sid}/preview").json()
    assert (preview["ok"], preview["rows"]) == (False, [])
    assert f'role "{ghost}" does not exist' in preview["message"]
    run = client.post(f"/api/v1/data-sources/{sid}/sync").json()
    assert run["status"] == "failed"
    for text in (test["message"], preview["message"], run["error"]):
        assert SOURCE_PASSWORD not in text
    assert client.get(f"/api/v1/data-sources/{sid}").json()["failures"] == 1
    assert events(tenant) == []


def test_another_organizations_source_is_not_found_and_stays_as_it_was(
    tenant, other_tenant, warehouse
):
    theirs = create(other_tenant, warehouse, name="Globex warehouse")
    sid = theirs["id"]
    client = tenant.client()

    assert client.get("/api/v1/data-sources").json()["results"] == []
    assert client.get(f"/api/v1/data-sources/{sid}").status_code == 404
    assert client.patch(f"/api/v1/data-sources/{sid}", {"name": "Hacked", "enabled": False},
                        format="json").status_code == 404
    assert client.delete(f"/api/v1/data-sources/{sid}").status_code == 404
    assert client.get(f"/api/v1/data-sources/{sid}/runs").status_code == 404
    for action in ("test", "preview", "sync"):
        response = client.post(f"/api/v1/data-sources/{sid}/{action}")
        assert response.status_code == 404, action
        assert response.json()["error"]["type"] == "not_found"
        assert SOURCE_PASSWORD not in response.content.decode()

    with other_tenant.context():
        source = DataSource.objects.get(id=sid)
        assert (source.name, source.enabled, source.watermark) == (
            "Globex warehouse", True, None
        )
        assert not SyncRun.objects.exists()
    assert events(other_tenant) == [] and events(tenant) == []


def test_a_viewer_key_reads_but_cannot_write(tenant):
    source = create(tenant)
    viewer = tenant.client(Role.VIEWER)

    assert viewer.get(f"/api/v1/data-sources/{source['id']}").status_code == 200
    refused = viewer.post("/api/v1/data-sources", body(name="Viewer's"), format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_denied"
    assert viewer.patch(f"/api/v1/data-sources/{source['id']}", {"name": "Viewer's"},
                        format="json").status_code == 403
    assert viewer.delete(f"/api/v1/data-sources/{source['id']}").status_code == 403
    assert viewer.post(f"/api/v1/data-sources/{source['id']}/sync").status_code == 403
    with tenant.context():
        assert list(DataSource.objects.values_list("name", flat=True)) == ["Warehouse"]
        assert not SyncRun.objects.exists()


def test_a_source_is_deleted_with_its_runs(tenant):
    client = tenant.client()
    source = create(tenant)
    assert client.delete(f"/api/v1/data-sources/{source['id']}").status_code == 204
    assert client.get(f"/api/v1/data-sources/{source['id']}").status_code == 404
    with tenant.context():
        assert not DataSource.objects.exists()
