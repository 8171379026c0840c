"""Fixtures for the generated API tests: an organization with one object of every kind the
API addresses by id, made through the API as a tenant's engineer would. The generated tests
(schemathesis, cross-tenant) aim at these objects rather than at ids that do not exist."""

from __future__ import annotations

import uuid

import pytest
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import override_settings

from invoicing.tasks import generate_invoices
from payments import services as payments
from tests.support.factories import OrganizationFactory, UserFactory
from tests.support.scenario import Scenario, flat
from tests.support.tenants import Tenant

FLAT = flat("PLATFORM", "100.00")

# What test_schemathesis.py ran, printed at the end of the session (tests/security/conftest.py).
SCHEMATHESIS_TALLY: dict = {"operations": set(), "cases": 0, "examples_per_operation": 0}


def build_world(tenant) -> dict[str, str]:
    """Every path parameter the API has (``customer_id``, ``invoice_id``...) -> the id of a
    real object of ``tenant``'s."""
    s = Scenario(tenant)
    ids: dict[str, str] = {}
    ids["customer_id"] = s.customer("acme")["id"]
    ids["product_id"] = s.product("PLATFORM")["id"]
    s.product("API", kind="usage")
    ids["meter_id"] = s.meter("api_calls", event_name="api_call")["id"]
    ids["feature_id"] = s.post("features", {"key": "api_calls", "name": "API calls",
                                            "kind": "metered", "meter_key": "api_calls",
                                            "reset": "monthly"})["id"]
    ids["feature_key"] = "api_calls"
    billed = s.contract(items=[FLAT])
    draft = s.post("contracts", {
        "customer": "acme", "name": "Draft", "start_date": "2026-06-01", "status": "draft",
        "phases": [{"start_date": "2026-06-01", "items": [FLAT]}]})
    ids["contract_id"] = draft["id"]
    phases = s.get(f"contracts/{draft['id']}/phases")["results"]
    ids["phase_id"] = phases[0]["id"]
    ids["item_id"] = s.get(f"phases/{ids['phase_id']}/items")["results"][0]["id"]
    generate_invoices(str(tenant.organization.id), "2026-02-10")
    invoices = s.invoices(billed["id"])
    finalized = s.finalize(invoices[0]["id"])
    ids["invoice_id"] = invoices[1]["id"]  # a draft: lines can be added and changed
    ids["line_id"] = s.invoice(invoices[1]["id"])["lines"][0]["id"]
    ids["rate_id"] = s.post("tax-rates", {"name": "VAT", "country": "DE", "rate": "19"})["id"]
    with tenant.context():
        payments.gateway_account_set(organization=tenant.organization, kind="manual")
    ids["payment_id"] = s.post(f"invoices/{finalized['id']}/payments", {
        "method": "bank_transfer", "amount": "40.00", "reference": "TR-1"})["id"]
    ids["credit_note_id"] = s.post(f"invoices/{finalized['id']}/credit-notes", {
        "reason": "Goodwill", "lines": [{"line": finalized["lines"][0]["id"],
                                         "amount": "10.00"}]})["id"]
    ids["coupon_id"] = s.post("coupons", {"code": "WELCOME", "name": "Welcome",
                                          "kind": "percent", "percent_off": "10",
                                          "duration": "once"})["id"]
    ids["redemption_id"] = s.post(f"customers/{ids['customer_id']}/coupons",
                                  {"code": "WELCOME"})["id"]
    ids["segment_id"] = s.post("segments", {"name": "Overdue a week", "rules": {
        "match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": 7}]}})["id"]
    response = s.client.put(f"/api/v1/segments/{ids['segment_id']}/policy", {
        "steps": [{"offset_days": 7, "channel": "email"}, {"offset_days": 30, "channel": "task"}]},
        format="json")
    assert response.status_code == 200, response.json()
    ids["reminder_id"] = s.post(f"invoices/{finalized['id']}/request-payment", {},
                                status=202)["id"]
    ids["source_id"] = s.post("data-sources", {
        "name": "Warehouse", "kind": "postgres",
        "settings": {"host": "127.0.0.1", "port": 5432, "dbname": "usage", "user": "reader",
                     "password": "secret"},
        "query": {"sql": "SELECT id, account, calls, recorded_at FROM usage_rows"},
        "mapping": {"event_id": "id", "customer": "account", "timestamp": "recorded_at",
                    "event_name_value": "api_call"},
        "cursor_field": "id"})["id"]
    ids["account_id"] = s.get("revenue/accounts")["results"][0]["id"]
    with override_settings(OUTBOUND_ALLOW_PRIVATE_NETWORKS=True):  # a port nothing serves
        ids["endpoint_id"] = s.post("webhook-endpoints", {"url": "http://127.0.0.1:9/hooks"})["id"]
    ids["delivery_id"] = s.post(f"webhook-endpoints/{ids['endpoint_id']}/test", {},
                                status=202)["id"]
    ids["key_id"] = s.post("api-keys", {"name": "CI", "role": "viewer"})["id"]
    ids["membership_id"] = s.post("members", {"email": "ana@acme.test", "role": "viewer"})["id"]
    return ids


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """One world for every test of a module, built once inside a transaction that stays open
    while they run: each test's own transaction is a savepoint of it, rolled back after the
    test, so every test starts from the world as built, whatever the previous one did; the
    whole is rolled back after the module (nothing is ever committed, as with a world built
    in each test). The generated tests aim at it by the hundred: building it for each of
    them took most of their time."""
    with django_db_blocker.unblock():
        block = transaction.atomic()
        block.__enter__()
        try:
            owner = UserFactory(email=f"owner-{uuid.uuid4().hex[:8]}@acme.test")
            organization = OrganizationFactory(name="Acme", owner=owner)
            ids = build_world(Tenant(organization))
        except BaseException:
            transaction.set_rollback(True)
            block.__exit__(None, None, None)
            raise
    yield organization, ids
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        block.__exit__(None, None, None)


@pytest.fixture
def world_tenant(_module_world, db) -> Tenant:
    """The tenant that owns ``world`` (API keys of its own, made in the test)."""
    return Tenant(_module_world[0])


@pytest.fixture
def world(_module_world, db) -> dict[str, str]:
    """Every path parameter of the API -> the id of a real object of ``world_tenant``'s."""
    return dict(_module_world[1])


@pytest.fixture
def wsgi_calls():
    """Calls through the WSGI application (as schemathesis makes them) inside the test's
    transaction: Django would close the connection at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
