"""The audit trail is append-only in the database itself: no UPDATE, DELETE or TRUNCATE gets
through, neither from the application's own role (granted SELECT only) nor from the owner role
(a trigger refuses it) -- not even with raw SQL. The rows are committed first, so each
statement has rows to touch (the committing tests are few: each is flushed after it)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connections, transaction
from django.db.utils import DatabaseError

from tests.support import COMMITTING
from tests.support.audit import audit_events
from zenskar.core.db import owner_conninfo
from zenskar.tenancy.context import tenant_context

pytestmark = COMMITTING

STATEMENTS = {
    "update": "UPDATE audit_auditevent SET label = 'forged', actor_label = 'someone else'",
    "delete": "DELETE FROM audit_auditevent",
    "delete nothing": "DELETE FROM audit_auditevent WHERE false",
    "truncate": "TRUNCATE audit_auditevent",
}


@pytest.fixture
def recorded(tenant):
    """Committed events: the organization, its owner's membership, a customer created and
    renamed."""
    client = tenant.client()
    customer = client.post("/api/v1/customers", {"external_id": "acme", "name": "Acme",
                                                 "currency": "USD"}, format="json").json()
    client.patch(f"/api/v1/customers/{customer['id']}", {"name": "Acme Inc"}, format="json")
    events = audit_events(tenant.organization)
    # organization, owner member, the test's API key, customer created, customer changed
    assert [(e.object_type, e.action) for e in events] == [
        ("organization", "created"), ("member", "created"), ("api_key", "created"),
        ("customer", "created"), ("customer", "changed")]
    return [(e.id, e.label, e.actor_label) for e in events]


def _still(tenant, recorded, after: str = "") -> None:
    rows = [(e.id, e.label, e.actor_label) for e in audit_events(tenant.organization)]
    assert rows == recorded, after


def test_the_application_role_cannot_change_the_trail(tenant, recorded):
    for name, statement in STATEMENTS.items():
        with tenant_context(tenant.organization):
            with pytest.raises(DatabaseError,
                               match="permission denied for table audit_auditevent"):
                with transaction.atomic(), connections["default"].cursor() as cursor:
                    cursor.execute(statement)
        _still(tenant, recorded, after=name)


def test_the_owner_role_cannot_change_the_trail(tenant, recorded):
    for name, statement in STATEMENTS.items():
        with psycopg.connect(owner_conninfo()) as owner:
            with pytest.raises(psycopg.Error, match="the audit trail is append-only"):
                owner.execute(statement)
        _still(tenant, recorded, after=name)


def test_the_application_role_cannot_forge_an_event(tenant, recorded):
    with tenant_context(tenant.organization):
        with pytest.raises(DatabaseError, match="permission denied for table audit_auditevent"):
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute(
                    "INSERT INTO audit_auditevent (id, organization_id, occurred_at, channel, "
                    "actor_type, actor_id, actor_label, request_id, object_type, object_id, "
                    "action, label) VALUES (gen_random_uuid(), %s, now(), 'system', 'system', "
                    "'', '', '', 'customer', gen_random_uuid(), 'deleted', 'forged')",
                    [tenant.organization.id])
    _still(tenant, recorded)


def test_deleting_the_customer_keeps_its_history(tenant, recorded):
    events = audit_events(tenant.organization, object_type="customer")
    customer_id = events[0].object_id

    response = tenant.client().delete(f"/api/v1/customers/{customer_id}")

    assert response.status_code == 204
    history = audit_events(tenant.organization, object_id=customer_id)
    assert [e.action for e in history] == ["created", "changed", "deleted"]
    assert history[-1].snapshot["name"] == "Acme Inc"  # the row as it was when deleted
