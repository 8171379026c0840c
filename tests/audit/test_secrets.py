"""No secret reaches the audit trail: an API key's digest, a gateway's keys (nor their
encrypted form), a data source's password. A change of one is recorded -- that it changed,
by whom -- with its values ``"[redacted]"`` (every column named like a secret is: tests/audit/test_triggers.py)."""

from __future__ import annotations

import json

import pytest

from tests.support.audit import audit_events
from zenskar.tenancy.models import Role
from zenskar.tenancy.services import hash_secret

pytestmark = pytest.mark.django_db

REDACTED = "[redacted]"


def _trail_text(organization) -> str:
    """Every event of the organization, as the text of its values."""
    return json.dumps([[e.label, e.actor_label, e.changes, e.snapshot]
                       for e in audit_events(organization)], default=str)


def test_an_api_keys_digest_never_reaches_the_trail(tenant):
    client = tenant.client(Role.ADMIN)
    created = client.post("/api/v1/api-keys", {"name": "Warehouse", "role": "viewer"},
                          format="json").json()
    client.delete(f"/api/v1/api-keys/{created['id']}")

    text = _trail_text(tenant.organization)
    assert created["secret"] not in text
    assert hash_secret(created["secret"]) not in text
    events = audit_events(tenant.organization, object_type="api_key",
                          object_id=created["id"])
    assert [e.action for e in events] == ["created", "changed"]
    assert events[0].snapshot["secret_hash"] == REDACTED
    assert set(events[1].changes) == {"revoked_at"}


def test_a_gateways_keys_never_reach_the_trail(tenant):
    client = tenant.client(Role.ADMIN)
    for secret, hook in (("sk_test_51AuditOne4242", "whsec_audit_one"),
                         ("sk_test_51AuditTwo4242", "whsec_audit_two")):
        response = client.put("/api/v1/gateway", {"kind": "stripe", "mode": "test",
                                                  "secret_key": secret,
                                                  "webhook_secret": hook}, format="json")
        assert response.status_code == 200, response.json()

    text = _trail_text(tenant.organization)
    for secret in ("sk_test_51AuditOne4242", "whsec_audit_one", "sk_test_51AuditTwo4242",
                   "whsec_audit_two", "gAAAA"):  # "gAAAA": how every Fernet token starts
        assert secret not in text
    created, changed = audit_events(tenant.organization, object_type="gateway_account")
    assert created.snapshot["encrypted_credentials"] == REDACTED
    # the second key replaced the first: recorded as a change, its values hidden
    assert changed.changes == {"encrypted_credentials": [REDACTED, REDACTED]}


def test_a_data_sources_password_never_reaches_the_trail(tenant):
    client = tenant.client(Role.ADMIN)
    settings = {"host": "127.0.0.1", "port": 5432, "dbname": "usage", "user": "reader",
                "password": "pw-c0ffee-4242"}
    source = client.post("/api/v1/data-sources", {
        "name": "Warehouse", "kind": "postgres", "settings": settings,
        "query": {"sql": "SELECT id, account, calls, recorded_at FROM usage_rows"},
        "mapping": {"event_id": "id", "customer": "account", "timestamp": "recorded_at",
                    "event_name_value": "api_call"},
        "cursor_field": "id"}, format="json").json()
    client.patch(f"/api/v1/data-sources/{source['id']}",
                 {"settings": {**settings, "password": "pw-decaf-4343"}}, format="json")

    text = _trail_text(tenant.organization)
    assert "pw-c0ffee-4242" not in text and "pw-decaf-4343" not in text
    created, changed = audit_events(tenant.organization, object_id=source["id"])
    assert created.snapshot["encrypted_settings"] == REDACTED
    assert created.snapshot["query"] == {
        "sql": "SELECT id, account, calls, recorded_at FROM usage_rows"}
    assert changed.changes["encrypted_settings"] == [REDACTED, REDACTED]
