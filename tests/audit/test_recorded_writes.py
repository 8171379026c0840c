"""Every kind of write is in the audit trail, through both doors: who (the API key, or the
signed-in person), what (the object, the action, the changed fields old and new, or the row
as written), when (UTC, while the request ran) and from where (the channel, the client's
address, the request's id).

One case per kind of write, on the generated tests' ``world`` (a customer ``acme``, a billed
active contract, a draft contract with one phase and one price item, January's invoice
finalized with 40.00 paid by bank transfer and 10.00 credited, a one-off draft invoice, a segment with
its reminder policy, a data source, a manual gateway, a tax rate, the chart of accounts, an
API key and a member). The API's calls carry an admin API key; the dashboard's forms are
posted by a signed-in admin (the contract editor writes phases and price items through the
API with the dashboard's session: that is the dashboard's door too).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support.audit import audit_events
from zenskar.audit.models import AuditEvent
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

Ids = dict[str, str]


@dataclass(frozen=True)
class Write:
    """``call(ids)`` -> (method, path, body): a call of the API (under /api/v1/) or a form
    of the dashboard; the event it must leave: ``kind`` and ``action`` of the object
    ``object_id(ids)`` (any object of the kind when None); for a change exactly ``changes``
    (or at least ``some_changes``); for a creation a ``snapshot`` holding these fields."""

    call: Callable[[Ids], tuple[str, str, dict]]
    kind: str
    action: str
    changes: dict | None = None
    some_changes: dict = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)
    object_id: Callable[[Ids], str] | None = None


def _policy_form(steps: list[dict]) -> dict:
    data = {"steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "20", "policy-active": "on"}
    for index, step in enumerate(steps):
        data.update({f"steps-{index}-{name}": value for name, value in step.items()})
    return data


def _customer_form(**changes) -> dict:
    return {"external_id": "acme", "name": "Acme", "emails": "ap@acme.test", "currency": "USD",
            "time_zone": "UTC", "payment_terms_days": "30", "country": "US", "attributes": "",
            **changes}


REDACTED = ["[redacted]", "[redacted]"]
OVERDUE = {"match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": 30}]}

API: dict[str, Write] = {
    "customer changed": Write(
        lambda w: ("patch", f"customers/{w['customer_id']}", {"name": "Acme Inc"}),
        "customer", "changed", changes={"name": ["Acme", "Acme Inc"]},
        object_id=lambda w: w["customer_id"]),
    "contract activated": Write(
        lambda w: ("post", f"contracts/{w['contract_id']}/activate", {}),
        "contract", "changed", changes={"status": ["draft", "active"]},
        object_id=lambda w: w["contract_id"]),
    "phase renamed": Write(
        lambda w: ("patch", f"phases/{w['phase_id']}", {"name": "Ramp"}),
        "contract_phase", "changed", changes={"name": ["", "Ramp"]},
        object_id=lambda w: w["phase_id"]),
    "price item described": Write(
        lambda w: ("patch", f"price-items/{w['item_id']}", {"description": "Platform fee"}),
        "price_item", "changed", changes={"description": ["Platform", "Platform fee"]},
        object_id=lambda w: w["item_id"]),
    "invoice line added": Write(
        lambda w: ("post", f"invoices/{w['draft_id']}/lines",
                   {"description": "Setup", "quantity": "2", "unit_price": "50.00"}),
        "invoice_line", "created",
        # 2 x 50.00 = 100.00, kept with the column's four decimals
        snapshot={"description": "Setup", "quantity": Decimal("2.0000000000"),
                  "amount": Decimal("100.0000"), "kind": "manual"}),
    "invoice finalized": Write(
        lambda w: ("post", f"invoices/{w['draft_id']}/finalize", {}),
        "invoice", "changed", some_changes={"status": ["draft", "finalized"]},
        object_id=lambda w: w["draft_id"]),
    "credit note issued": Write(
        lambda w: ("post", f"invoices/{w['finalized_id']}/credit-notes",
                   {"reason": "Outage", "lines": [{"line": w["finalized_line_id"],
                                                   "amount": "5.00"}]}),
        "credit_note", "created", snapshot={"reason": "Outage", "total": Decimal("5.0000")}),
    "payment recorded": Write(
        lambda w: ("post", f"invoices/{w['finalized_id']}/payments",
                   {"method": "bank_transfer", "amount": "20.00", "reference": "TR-2"}),
        "payment", "created", snapshot={"reference": "TR-2", "amount": Decimal("20.0000"),
                                        "method": "bank_transfer"}),
    "refund made": Write(
        lambda w: ("post", f"payments/{w['payment_id']}/refunds",
                   {"amount": "5.00", "reason": "Too much"}),
        "refund", "created", snapshot={"reason": "Too much", "amount": Decimal("5.0000")}),
    "segment added": Write(
        lambda w: ("post", "segments", {"name": "Very late", "rules": OVERDUE}),
        "segment", "created", snapshot={"name": "Very late", "rules": OVERDUE}),
    "reminder policy written": Write(
        lambda w: ("put", f"segments/{w['segment_id']}/policy",
                   {"steps": [{"offset_days": 3, "channel": "email"}]}),
        "reminder_step", "created", snapshot={"offset_days": 3, "channel": "email"}),
    "organization renamed": Write(
        lambda w: ("patch", "organization", {"name": "Acme Corp"}),
        "organization", "changed", changes={"name": ["Acme", "Acme Corp"]}),
    "invoice settings changed": Write(
        lambda w: ("patch", "invoice-settings", {"grace_period_hours": 48}),
        "invoice_settings", "changed", changes={"grace_period_hours": [24, 48]}),
    "tax rate added": Write(
        lambda w: ("post", "tax-rates", {"name": "TVA", "country": "FR", "rate": "20"}),
        "tax_rate", "created", snapshot={"name": "TVA", "country": "FR",
                                         "rate": Decimal("20.0000")}),
    "gateway set": Write(
        lambda w: ("put", "gateway", {"kind": "manual", "mode": "test", "retry_days": [2, 4]}),
        # the credentials are encrypted again (a new nonce): a change, its values redacted
        "gateway_account", "changed", changes={"retry_days": [[1, 3, 5, 7], [2, 4]],
                                               "encrypted_credentials": REDACTED}),
    "data source disabled": Write(
        lambda w: ("patch", f"data-sources/{w['source_id']}", {"enabled": False}),
        "data_source", "changed", changes={"enabled": [True, False]},
        object_id=lambda w: w["source_id"]),
    "ledger account mapped": Write(
        lambda w: ("patch", f"revenue/accounts/{w['account_id']}", {"gl_code": "1100-AR"}),
        "ledger_account", "changed", changes={"gl_code": ["", "1100-AR"]},
        object_id=lambda w: w["account_id"]),
    "books closed": Write(
        lambda w: ("post", "revenue/closes", {"closed_through": "2026-01-31", "force": True}),
        "period_close", "created", snapshot={"closed_through": "2026-01-31"}),
    "API key created": Write(
        lambda w: ("post", "api-keys", {"name": "Warehouse", "role": "viewer"}),
        "api_key", "created", snapshot={"name": "Warehouse", "role": "viewer",
                                        "secret_hash": "[redacted]"}),
    "member added": Write(
        lambda w: ("post", "members", {"email": "ben@acme.test", "role": "finance"}),
        "member", "created", snapshot={"role": "finance"}),
}

PAGE: dict[str, Write] = {
    "customer changed": Write(
        lambda w: ("post", f"/customers/{w['customer_id']}/edit/",
                   _customer_form(name="Acme Inc", payment_terms_days="45")),
        "customer", "changed",
        changes={"name": ["Acme", "Acme Inc"], "payment_terms_days": [30, 45]},
        object_id=lambda w: w["customer_id"]),
    "contract activated": Write(
        lambda w: ("post", f"/contracts/{w['contract_id']}/activate/", {}),
        "contract", "changed", changes={"status": ["draft", "active"]},
        object_id=lambda w: w["contract_id"]),
    "phase renamed (the editor, through the API)": Write(
        lambda w: ("patch", f"/api/v1/phases/{w['phase_id']}", {"name": "Ramp"}),
        "contract_phase", "changed", changes={"name": ["", "Ramp"]},
        object_id=lambda w: w["phase_id"]),
    "price item described (the editor, through the API)": Write(
        lambda w: ("patch", f"/api/v1/price-items/{w['item_id']}",
                   {"description": "Platform fee"}),
        "price_item", "changed", changes={"description": ["Platform", "Platform fee"]},
        object_id=lambda w: w["item_id"]),
    "invoice line added": Write(
        lambda w: ("post", f"/invoices/{w['draft_id']}/lines/",
                   {"description": "Setup", "quantity": "2", "unit_price": "50.00"}),
        "invoice_line", "created",
        snapshot={"description": "Setup", "amount": Decimal("100.0000"), "kind": "manual"}),
    "invoice finalized": Write(
        lambda w: ("post", f"/invoices/{w['draft_id']}/finalize/", {}),
        "invoice", "changed", some_changes={"status": ["draft", "finalized"]},
        object_id=lambda w: w["draft_id"]),
    "credit note issued": Write(
        lambda w: ("post", f"/invoices/{w['finalized_id']}/credit-notes/",
                   {"reason": "Outage", "scope": "lines", "destination": "reduce_due",
                    f"line_{w['finalized_line_id']}": "5.00"}),
        "credit_note", "created", snapshot={"reason": "Outage", "total": Decimal("5.0000")}),
    "payment recorded": Write(
        lambda w: ("post", f"/payments/invoices/{w['finalized_id']}/offline/",
                   {"method": "cash", "amount": "20.00", "received_on": "2026-02-10",
                    "reference": "CASH-1"}),
        "payment", "created", snapshot={"method": "cash", "amount": Decimal("20.0000")}),
    "refund made": Write(
        lambda w: ("post", f"/payments/{w['payment_id']}/refund/",
                   {"amount": "5.00", "reason": "Too much"}),
        "refund", "created", snapshot={"reason": "Too much", "amount": Decimal("5.0000")}),
    "invoice template saved": Write(
        lambda w: ("post", "/invoices/template/save/", {"html": "<p>{{ invoice.number }}</p>",
                                                        "css": ""}),
        "invoice_template", "created", snapshot={"html": "<p>{{ invoice.number }}</p>"}),
    "segment added": Write(
        lambda w: ("post", "/receivables/segments/new",
                   {"name": "Very late", "rules": '{"match": "all", "rules": [{"field": '
                                                  '"days_past_due", "op": "gte", "value": 30}]}'}),
        "segment", "created", snapshot={"name": "Very late", "rules": OVERDUE}),
    "reminder policy written": Write(
        lambda w: ("post", f"/receivables/segments/{w['segment_id']}/policy",
                   _policy_form([{"offset_days": "3", "channel": "email"}])),
        "reminder_step", "created", snapshot={"offset_days": 3, "channel": "email"}),
    "organization renamed": Write(
        lambda w: ("post", "/settings/organization/",
                   {"name": "Acme Corp", "default_currency": "USD", "time_zone": "UTC",
                    "usage_window_days": "3650"}),
        "organization", "changed", changes={"name": ["Acme", "Acme Corp"]}),
    "invoice settings changed": Write(
        lambda w: ("post", "/invoices/settings/save/",
                   {"number_prefix": "ACME", "grace_period_hours": "48"}),
        "invoice_settings", "changed", some_changes={"grace_period_hours": [24, 48]}),
    "tax rate added": Write(
        lambda w: ("post", "/invoices/settings/tax-rates/",
                   {"name": "TVA", "country": "FR", "region": "", "rate": "20"}),
        "tax_rate", "created", snapshot={"name": "TVA", "rate": Decimal("20.0000")}),
    "gateway set": Write(
        lambda w: ("post", "/payments/settings/",
                   {"kind": "manual", "mode": "test", "retry_days": "2, 4"}),
        # the credentials are encrypted again (a new nonce): a change, its values redacted
        "gateway_account", "changed", changes={"retry_days": [[1, 3, 5, 7], [2, 4]],
                                               "encrypted_credentials": REDACTED}),
    "data source disabled": Write(
        lambda w: ("post", f"/metering/sources/{w['source_id']}/enabled/", {"enabled": "0"}),
        "data_source", "changed", changes={"enabled": [True, False]},
        object_id=lambda w: w["source_id"]),
    "ledger account mapped": Write(
        lambda w: ("post", f"/revenue/accounts/{w['account_id']}/",
                   {f"a-{w['account_id']}-code": w["account_code"],
                    f"a-{w['account_id']}-name": w["account_name"],
                    f"a-{w['account_id']}-gl_code": "1100-AR"}),
        "ledger_account", "changed", changes={"gl_code": ["", "1100-AR"]},
        object_id=lambda w: w["account_id"]),
    "books closed": Write(
        lambda w: ("post", "/revenue/close/", {"closed_through": "2026-01-31", "force": "on"}),
        "period_close", "created", snapshot={"closed_through": "2026-01-31"}),
    "API key created": Write(
        lambda w: ("post", "/settings/api-keys/", {"name": "Warehouse", "role": "viewer"}),
        "api_key", "created", snapshot={"name": "Warehouse", "secret_hash": "[redacted]"}),
    "member added": Write(
        lambda w: ("post", "/settings/members/", {"email": "ben@acme.test", "role": "finance"}),
        "member", "created", snapshot={"role": "finance"}),
}


@pytest.fixture
def tenant(world_tenant):
    return world_tenant


def _world(tenant, ids: Ids) -> Ids:
    """The world's ids, and those of the objects it made without naming them."""
    client = tenant.client()
    payment = client.get(f"/api/v1/payments/{ids['payment_id']}").json()
    finalized = client.get(f"/api/v1/invoices/{payment['invoice']}").json()
    account = client.get(f"/api/v1/revenue/accounts/{ids['account_id']}").json()
    draft = client.post("/api/v1/invoices", {"customer": "acme", "lines": [
        {"description": "Travel", "quantity": "1", "unit_price": "10.00"}]}, format="json")
    assert draft.json()["status"] == "draft"
    return {**ids, "draft_id": draft.json()["id"], "finalized_id": finalized["id"],
            "finalized_line_id": finalized["lines"][0]["id"], "account_code": account["code"],
            "account_name": account["name"]}


def _newest(organization) -> int:
    events = audit_events(organization)
    return events[-1].sequence if events else 0


def _event(organization, after: int, write: Write, ids: Ids) -> AuditEvent:
    lookup = {"object_type": write.kind, "action": write.action, "sequence__gt": after}
    if write.object_id is not None:
        lookup["object_id"] = uuid.UUID(write.object_id(ids))
    events = audit_events(organization, **lookup)
    assert events, f"no {write.action} {write.kind} recorded"
    return events[-1]


def _what(event: AuditEvent, write: Write) -> None:
    if write.action == "changed":
        assert event.snapshot is None
        assert write.some_changes.items() <= event.changes.items(), event.changes
    if write.changes is not None:
        assert event.changes == write.changes
    if write.action == "created":
        assert event.changes is None
        assert write.snapshot.items() <= event.snapshot.items(), event.snapshot
        assert event.snapshot["id"] == str(event.object_id)


def _when(event: AuditEvent, before, after) -> None:
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert before <= event.occurred_at <= after


@pytest.mark.parametrize("write", API.values(), ids=API.keys())
def test_an_api_write_is_recorded_as_the_api_key(tenant, world, write):
    ids = _world(tenant, world)
    key, secret = tenancy.api_key_create(organization=tenant.organization, name="Integration",
                                         role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    after = _newest(tenant.organization)
    method, path, body = write.call(ids)

    before = timezone.now()
    response = getattr(client, method)(f"/api/v1/{path}", body, format="json",
                                       HTTP_X_REQUEST_ID="req-api-1")
    done = timezone.now()

    assert response.status_code < 300, response.content[:500]
    event = _event(tenant.organization, after, write, ids)
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "api_key", str(key.id), "Integration")
    assert (event.channel, event.ip, event.request_id) == ("api", "127.0.0.1", "req-api-1")
    _what(event, write)
    _when(event, before, done)


@pytest.mark.parametrize("write", PAGE.values(), ids=PAGE.keys())
def test_a_dashboard_write_is_recorded_as_the_signed_in_person(
        tenant, world, client, signed_in, write):
    ids = _world(tenant, world)
    user = signed_in(Role.ADMIN)
    after = _newest(tenant.organization)
    method, path, body = write.call(ids)

    before = timezone.now()
    if path.startswith("/api/"):  # the dashboard's editor, with the session
        session = APIClient()
        session.force_login(user)
        response = getattr(session, method)(path, body, format="json",
                                            HTTP_X_REQUEST_ID="req-page-1")
    else:
        response = client.post(path, body, HTTP_X_REQUEST_ID="req-page-1")
    done = timezone.now()

    assert response.status_code in (200, 201, 302), response.content[:500]
    event = _event(tenant.organization, after, write, ids)
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "user", str(user.pk), "admin@acme.test")
    assert (event.channel, event.ip, event.request_id) == (
        "dashboard", "127.0.0.1", "req-page-1")
    _what(event, write)
    _when(event, before, done)


def test_every_audited_kind_has_a_case_through_both_doors():
    # the invoice template has one door (the dashboard), every other kind both
    kinds_api = {write.kind for write in API.values()}
    kinds_page = {write.kind for write in PAGE.values()}
    assert kinds_page - kinds_api == {"invoice_template"}
    assert kinds_api <= kinds_page


def test_a_task_writes_as_the_task(tenant, world):
    from invoicing.tasks import generate_invoices

    after = _newest(tenant.organization)
    before = timezone.now()

    result = generate_invoices.apply(args=[str(tenant.organization.id), "2026-03-10"])

    assert result.successful(), result.traceback
    created = audit_events(tenant.organization, object_type="invoice", action="created",
                           sequence__gt=after)
    # the active contract bills monthly from 2026-01-01: February's and March's dates were
    # not billed yet (the world generated through 2026-02-10: January and February) -- one
    # invoice, March's
    assert [e.snapshot["billing_date"] for e in created] == ["2026-03-01"]
    event = created[0]
    assert (event.channel, event.actor_type, event.actor_label) == (
        "task", "system", "invoicing.generate_invoices")
    assert event.request_id == result.id
    assert event.ip is None
    assert before <= event.occurred_at.astimezone(UTC) <= timezone.now()
