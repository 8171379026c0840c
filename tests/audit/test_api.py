"""Reading the audit trail through the API: ``GET /api/v1/audit-events`` (filters, newest
first, cursor pages) and ``/export`` (a CSV file of the same events, bounded); owners and
admins only; another organization never sees a row -- not through the API, not through raw
SQL under its row-level security."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection

from tests.support.audit import audit_events
from zenskar.audit import selectors
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(tenant):
    """Acme's customer created, then renamed twice, and a product, all with its admin key."""
    client = tenant.client()
    customer = client.post("/api/v1/customers", {"external_id": "acme", "name": "Acme",
                                                 "currency": "USD"}, format="json").json()
    for name in ("Acme Inc", "Acme Group"):
        client.patch(f"/api/v1/customers/{customer['id']}", {"name": name}, format="json")
    client.post("/api/v1/products", {"name": "Platform", "sku": "PLATFORM",
                                     "kind": "recurring", "revenue_rule": "ratable"},
                format="json")
    return customer


def _list(client, **params):
    response = client.get("/api/v1/audit-events", params)
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_list_is_newest_first_with_who_what_and_the_changes(tenant, acme):
    body = _list(tenant.client(), object_id=acme["id"])

    assert [(e["action"], e["label"]) for e in body["results"]] == [
        ("changed", "Acme Group"), ("changed", "Acme Inc"), ("created", "Acme")]
    newest = body["results"][0]
    assert newest["changes"] == {"name": ["Acme Inc", "Acme Group"]}
    assert newest["snapshot"] is None
    assert newest["actor"]["type"] == "api_key" and newest["actor"]["label"] == "admin key"
    assert (newest["channel"], newest["object_type"]) == ("api", "customer")
    created = body["results"][-1]
    assert created["changes"] is None
    # numbers with a fraction are decimal strings, exactly as stored; whole numbers numbers
    assert created["snapshot"]["name"] == "Acme"
    assert created["snapshot"]["payment_terms_days"] == 30


def test_each_filter_narrows_the_list(tenant, acme, make_user):
    client = tenant.client()
    key_id = str(tenant.organization.api_keys.get(name="admin key").id)

    def labels(**params):
        return [(e["object_type"], e["action"], e["label"])
                for e in _list(client, **params)["results"]]

    assert labels(object_type="product") == [("product", "created", "Platform")]
    assert labels(object_type="customer", action="created") == [
        ("customer", "created", "Acme")]
    # the key's id or its name: the customer's three events and the product's
    by_key = labels(actor=key_id)
    assert by_key == labels(actor="admin key")
    assert [kind for kind, _, _ in by_key] == ["product", "customer", "customer", "customer"]
    # the organization, its owner and the test's key were made outside any request: the
    # system's writes
    assert [kind for kind, _, _ in labels(channel="system")] == [
        "api_key", "member", "organization"]
    assert labels(since="2100-01-01T00:00:00Z") == []
    assert len(labels(until="2100-01-01T00:00:00Z")) == len(labels())


BAD_FILTERS = {
    "object_type": ({"object_type": "spaceship"}, "object_type", "invalid_choice"),
    "object_id": ({"object_id": "not-a-uuid"}, "object_id", "invalid"),
    "channel": ({"channel": "fax"}, "channel", "invalid_choice"),
    "action": ({"action": "stolen"}, "action", "invalid_choice"),
    "actor": ({"actor": "x" * 256}, "actor", "max_length"),
    "since": ({"since": "1969-12-31T00:00:00Z"}, "since", "invalid"),
    "range": ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until",
              "invalid_range"),
}


@pytest.mark.parametrize(("params", "field", "code"), BAD_FILTERS.values(),
                         ids=BAD_FILTERS.keys())
@pytest.mark.parametrize("path", ["/api/v1/audit-events", "/api/v1/audit-events/export"],
                         ids=["list", "export"])
def test_a_bad_filter_is_a_400_naming_it(tenant, path, params, field, code):
    response = tenant.client().get(path, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["codes"] == {field: [code]}, error


def test_a_page_size_out_of_bounds_is_a_400(tenant):
    response = tenant.client().get("/api/v1/audit-events", {"limit": "501"})

    assert response.status_code == 400
    assert "limit" in response.json()["error"]["fields"]


def test_pages_follow_the_write_order(tenant, acme):
    client = tenant.client()
    first = _list(client, limit=2)
    second = client.get(first["next"]).json()

    everything = [e["sequence"] for e in _list(client)["results"]]
    assert [e["sequence"] for e in first["results"] + second["results"]] == everything[:4]
    assert everything == sorted(everything, reverse=True)


def test_the_export_is_the_filtered_events_as_csv(tenant, acme):
    response = tenant.client().get("/api/v1/audit-events/export",
                                   {"object_id": acme["id"], "action": "changed"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["action"], r["label"], r["changes"]) for r in rows] == [
        ("changed", "Acme Group", '{"name":["Acme Inc","Acme Group"]}'),
        ("changed", "Acme Inc", '{"name":["Acme","Acme Inc"]}')]
    assert {r["actor_type"] for r in rows} == {"api_key"}
    assert rows[0]["occurred_at"].endswith("+00:00")


def test_an_export_larger_than_its_bound_is_refused(tenant, acme, monkeypatch):
    # 3 events of the customer; a bound of 2 refuses them, a bound of 3 exports them
    monkeypatch.setattr(selectors, "MAX_EXPORT", 2)
    refused = tenant.client().get("/api/v1/audit-events/export", {"object_id": acme["id"]})
    assert refused.status_code == 400
    assert refused.json()["error"]["codes"] == {"since": ["too_many_events"]}

    monkeypatch.setattr(selectors, "MAX_EXPORT", 3)
    assert tenant.client().get("/api/v1/audit-events/export",
                               {"object_id": acme["id"]}).status_code == 200


@pytest.mark.parametrize("role", [Role.FINANCE, Role.VIEWER])
def test_only_owners_and_admins_read_the_trail(tenant, acme, role):
    for path in ("/api/v1/audit-events", "/api/v1/audit-events/export"):
        response = tenant.client(role).get(path)

        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_denied"


def test_another_organization_never_sees_the_events(tenant, other_tenant, acme):
    theirs = other_tenant.client()

    listed = _list(theirs)["results"]
    # Globex's own: itself, its owner and its key -- nothing of Acme's
    assert sorted((e["object_type"], e["label"]) for e in listed
                  if e["object_type"] != "member") == [("api_key", "admin key"),
                                                       ("organization", "Globex")]
    assert [e["object_type"] for e in listed].count("member") == 1
    assert all(e["object_id"] != acme["id"] for e in listed)
    assert _list(theirs, object_id=acme["id"])["results"] == []
    export = theirs.get("/api/v1/audit-events/export", {"object_id": acme["id"]})
    assert b"".join(export.streaming_content).decode().count("\r\n") == 1  # the header only


def test_row_level_security_hides_the_events_from_raw_sql(tenant, other_tenant, acme):
    def organizations() -> set:
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT organization_id FROM audit_auditevent")
            return {row[0] for row in cursor.fetchall()}

    with tenant_context(other_tenant.organization):
        assert organizations() == {other_tenant.organization.id}
    with tenant_context(tenant.organization):
        assert organizations() == {tenant.organization.id}
    assert organizations() == set()  # no organization set: no rows
    assert len(audit_events(tenant.organization, object_id=acme["id"])) == 3
