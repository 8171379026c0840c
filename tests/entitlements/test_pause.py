"""A customer's entitlements paused for non-payment: the receivables app publishes
``customer.entitlements_paused`` / ``customer.entitlements_resumed`` in its transaction and
entitlements follows -- every check of a granted feature (and every consuming call) answers
not allowed with the reason ``paused``, on the hot path exactly as through Django, until it
is resumed.

The plan, on 2026-11-20: GOLD includes 1,000 API calls a month (hard), single sign-on and
10 seats; Acme has an active GOLD contract and made 40 calls today. Another organization
(Globex) has a customer with the same external id and the same plan.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from contracts.models import Customer
from entitlements import hot, services
from entitlements.models import Suspension
from tests.support.entitlements import check, consume, feature, include
from tests.support.hot_path import check_environ, wsgi_call
from tests.support.scenario import Scenario, flat
from zenskar import events
from zenskar.tenancy import services as tenancy
from zenskar.webhooks.models import OutboxEvent
from zenskar.wsgi import application, django_application

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
REASON = "Invoice INV-0042 is 30 days overdue"
INVOICE = uuid.UUID("6f0c2a52-0d5e-4c2b-9a57-3b1f0f6d3a11")


def _plan(scenario) -> dict:
    customer = scenario.customer("acme", name="Acme Corp")
    gold = scenario.product("GOLD")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    feature(scenario, "sso", "boolean")
    feature(scenario, "seats", "numeric")
    feature(scenario, "audit_log", "boolean")  # granted to nobody
    include(scenario, gold["id"], "api_calls", value="1000")
    include(scenario, gold["id"], "sso", enabled=True)
    include(scenario, gold["id"], "seats", value="10")
    scenario.contract(start="2026-11-01", end="2027-11-01", items=[flat("GOLD", "499.00")])
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-11-20T09:00:00Z", {})
                      for i in range(40)])
    return customer


@pytest.fixture
def plan(scenario, tenant, clock):
    clock.at(NOW)
    customer = _plan(scenario)
    _, secret = tenancy.api_key_create(organization=tenant.organization, name="product")
    return {"customer": customer, "secret": secret}


def publish(tenant, capture, name, **payload):
    """``name`` published as the receivables app does: in its transaction, which commits
    (the work left for after the commit runs)."""
    with capture(execute=True), tenant.context(), transaction.atomic():
        events.publish(events.DomainEvent(name=name, organization_id=tenant.organization.id,
                                          payload=payload))


def pause(tenant, capture, customer_id, reason=REASON, invoice=INVOICE):
    payload = {"customer": str(customer_id), "reason": reason}
    if invoice is not None:
        payload["invoice"] = str(invoice)
    publish(tenant, capture, "customer.entitlements_paused", **payload)


def resume(tenant, capture, customer_id):
    publish(tenant, capture, "customer.entitlements_resumed", customer=str(customer_id))


def suspensions(tenant) -> list[Suspension]:
    with tenant.context():
        return list(Suspension.objects.filter(organization=tenant.organization)
                    .order_by("paused_at", "created_at"))


def outbox(tenant) -> list[tuple[str, dict]]:
    with tenant.context():
        return [(row.event_type, row.payload) for row in OutboxEvent.objects.filter(
            organization=tenant.organization,
            event_type__startswith="customer.entitlements_").order_by("created_at")]


def test_a_paused_customer_is_refused_every_granted_feature_with_reason_paused(
        scenario, tenant, plan, django_capture_on_commit_callbacks):
    # the grants are cached before the pause: the pause drops them
    assert check(scenario, "acme", "api_calls")["allowed"] is True
    assert check(scenario, "acme", "sso")["allowed"] is True

    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])

    message = f"Paused for non-payment: {REASON}"
    calls = check(scenario, "acme", "api_calls")
    assert calls == {"feature": "api_calls", "kind": "metered", "policy": "hard",
                     "limit": "1000", "used": "40", "remaining": "960",
                     "resets_at": "2026-12-01T00:00:00+00:00", "allowed": False,
                     "reason": "paused", "message": message}
    assert check(scenario, "acme", "sso") == {
        "feature": "sso", "kind": "boolean", "policy": "hard", "limit": None, "used": None,
        "remaining": None, "resets_at": None, "allowed": False, "reason": "paused",
        "message": message}
    seats = check(scenario, "acme", "seats", amount="1")
    assert (seats["allowed"], seats["reason"], seats["limit"]) == (False, "paused", "10")
    # a feature never granted stays not granted: paying would not grant it
    assert check(scenario, "acme", "audit_log")["reason"] == "not_granted"
    # the batch check and the customer's list say the same
    batch = scenario.get("entitlements/batch-check", customer="acme",
                         features="api_calls,sso,seats")["entitlements"]
    assert [(a["allowed"], a["reason"]) for a in batch] == [(False, "paused")] * 3
    listed = scenario.get(f"customers/{plan['customer']['id']}/entitlements")
    assert listed["paused"] == {"since": NOW.isoformat(), "reason": REASON,
                                "invoice": str(INVOICE)}
    assert {row["feature"]: row["reason"] for row in listed["entitlements"]} == {
        "api_calls": "paused", "audit_log": "not_granted", "seats": "paused", "sso": "paused"}

    [row] = suspensions(tenant)
    assert (row.reason, row.invoice_id, row.paused_at, row.resumed_at) == (
        REASON, INVOICE, NOW, None)
    assert outbox(tenant) == [("customer.entitlements_paused", {
        "customer": "acme", "customer_id": plan["customer"]["id"], "reason": REASON,
        "invoice": str(INVOICE), "paused_at": NOW.isoformat(), "resumed_at": None})]


@pytest.mark.parametrize("params", [
    {"customer": "acme", "feature": "api_calls"},
    {"customer": "acme", "feature": "api_calls", "amount": "961"},
    {"customer": "acme", "feature": "sso"},
    {"customer": "acme", "feature": "seats"},
])
def test_the_hot_path_answers_a_paused_customer_as_django_does(
        tenant, plan, params, django_capture_on_commit_callbacks):
    environ = check_environ(plan["secret"], **params)
    assert wsgi_call(application, environ)[0] == "200 OK"  # Django: everything cached
    assert hot.answer(check_environ(plan["secret"], **params)) is not None  # hot

    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])

    # the cached grants were dropped: Django answers first, and caches the paused grants
    assert hot.answer(check_environ(plan["secret"], **params)) is None
    first = wsgi_call(application, check_environ(plan["secret"], **params))
    assert hot.answer(check_environ(plan["secret"], **params)) is not None  # hot again
    hot_answer = wsgi_call(application, check_environ(plan["secret"], **params))
    django_answer = wsgi_call(django_application, check_environ(plan["secret"], **params))
    assert hot_answer == django_answer == first
    status, _, body = hot_answer
    assert status == "200 OK"
    assert b'"allowed":false' in body and b'"reason":"paused"' in body
    assert f'"message":"Paused for non-payment: {REASON}"'.encode() in body


def test_resuming_allows_again(scenario, tenant, plan, django_capture_on_commit_callbacks):
    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    assert check(scenario, "acme", "api_calls")["reason"] == "paused"

    resume(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])

    calls = check(scenario, "acme", "api_calls")
    assert (calls["allowed"], calls["reason"], calls["remaining"]) == (True, "within_limit",
                                                                       "960")
    assert "message" not in calls
    assert check(scenario, "acme", "sso")["reason"] == "granted"
    assert scenario.get(f"customers/{plan['customer']['id']}/entitlements")["paused"] is None
    [row] = suspensions(tenant)
    assert row.resumed_at == NOW
    assert [kind for kind, _ in outbox(tenant)] == ["customer.entitlements_paused",
                                                    "customer.entitlements_resumed"]
    # resuming a customer not paused changes nothing
    resume(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    assert len(outbox(tenant)) == 2 and len(suspensions(tenant)) == 1


def test_pausing_twice_keeps_one_active_pause(scenario, tenant, plan, clock,
                                              django_capture_on_commit_callbacks):
    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    clock.at(datetime(2026, 11, 21, 8, tzinfo=UTC))
    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"],
          reason="Another reminder", invoice=None)

    [row] = suspensions(tenant)
    assert (row.reason, row.invoice_id, row.paused_at) == (REASON, INVOICE, NOW)  # the first
    assert len(outbox(tenant)) == 1
    assert check(scenario, "acme", "sso")["message"] == f"Paused for non-payment: {REASON}"

    # paused again after a resume: a new pause, the first kept as history
    resume(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"],
          reason="x" * 600, invoice=None)
    first, second = suspensions(tenant)
    assert first.resumed_at is not None and second.resumed_at is None
    assert (second.reason, second.invoice_id) == ("x" * 500, None)  # the column's bound
    assert check(scenario, "acme", "sso")["reason"] == "paused"


def test_consuming_is_refused_while_paused(scenario, tenant, plan,
                                           django_capture_on_commit_callbacks):
    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])

    refused = consume(scenario, "acme", "api_calls", 5, key="job-1")
    assert (refused["allowed"], refused["reason"], refused["requested"], refused["granted"],
            refused["message"]) == (False, "paused", "5", "0",
                                    f"Paused for non-payment: {REASON}")
    # not even what is left, when asked for it
    partial = consume(scenario, "acme", "api_calls", 1000, key="job-2", partial=True)
    assert (partial["allowed"], partial["reason"], partial["granted"]) == (False, "paused", "0")

    resume(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    assert check(scenario, "acme", "api_calls")["used"] == "40"  # nothing was consumed
    granted = consume(scenario, "acme", "api_calls", 5, key="job-3")
    assert (granted["allowed"], granted["reason"], granted["granted"]) == (
        True, "within_limit", "5")


def test_another_organizations_customer_is_unaffected(
        scenario, tenant, other_tenant, plan, django_capture_on_commit_callbacks):
    theirs = Scenario(other_tenant)
    their_customer = _plan(theirs)  # their own Acme, same external id, same plan
    assert check(theirs, "acme", "sso")["allowed"] is True

    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    # their customer's id, in an event of this organization: no customer of this one
    pause(tenant, django_capture_on_commit_callbacks, their_customer["id"])

    assert check(scenario, "acme", "sso")["reason"] == "paused"
    assert check(theirs, "acme", "sso")["reason"] == "granted"
    assert check(theirs, "acme", "api_calls")["allowed"] is True
    assert suspensions(other_tenant) == [] and outbox(other_tenant) == []
    assert len(suspensions(tenant)) == 1


@pytest.mark.parametrize("customer", ["6f1c1d1e-9a2b-4c3d-8e4f-5a6b7c8d9e0f", "not-a-uuid", "", None],
                         ids=["unknown-id", "not-a-uuid", "empty", "none"])
def test_an_unknown_customer_is_ignored(scenario, tenant, plan, customer,
                                        django_capture_on_commit_callbacks):
    publish(tenant, django_capture_on_commit_callbacks, "customer.entitlements_paused",
            customer=customer, reason=REASON)
    publish(tenant, django_capture_on_commit_callbacks, "customer.entitlements_resumed",
            customer=customer)

    assert suspensions(tenant) == [] and outbox(tenant) == []
    assert check(scenario, "acme", "sso")["reason"] == "granted"


def test_the_customer_page_shows_the_pause(client, signed_in, tenant, plan,
                                           django_capture_on_commit_callbacks):
    signed_in()
    url = f"/customers/{plan['customer']['id']}/"
    response = client.get(url)
    assert response.status_code == 200
    assert 'data-testid="entitlements-paused"' not in response.content.decode()

    pause(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])

    page = client.get(url).content.decode()
    assert 'data-testid="entitlements-paused"' in page
    assert f"Paused for non-payment since 2026-11-20</strong>: {REASON}" in page
    assert f'href="/invoices/{INVOICE}/"' in page
    assert 'data-testid="entitlement-reason"' in page and ">paused<" in page

    resume(tenant, django_capture_on_commit_callbacks, plan["customer"]["id"])
    assert 'data-testid="entitlements-paused"' not in client.get(url).content.decode()


def test_the_services_refuse_another_organizations_customer(tenant, other_tenant, plan):
    with tenant.context():
        customer = Customer.objects.get(id=plan["customer"]["id"])
    with other_tenant.context(), pytest.raises(ValidationError) as refused:
        services.customer_entitlements_pause(organization=other_tenant.organization,
                                             customer=customer, reason=REASON)
    assert "customer" in refused.value.message_dict
    assert suspensions(tenant) == []
