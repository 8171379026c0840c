"""Who writes is the connection's setting for the length of a request or a task, and only
that long: a pooled connection never carries one request's actor into the next. A write that
changes nothing but bookkeeping (``updated_at``, an API key's last use) records nothing. And
the trail replays the history: from the row as created, each change's new values in order
give the row as it is now, each change's old values the row as it was just before."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from contracts.models import Customer
from contracts.services import customer_create, customer_update
from tests.support.audit import audit_events
from zenskar.audit.context import SETTINGS, Actor, audit_context, current_audit_context
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import ApiKey, Role

pytestmark = pytest.mark.django_db


def _settings() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["coalesce(current_setting(%s, true), '')"]
                                             * len(SETTINGS)), list(SETTINGS))
        return list(cursor.fetchone())


NOTHING = ["", "", "", "", "", ""]


def test_a_request_leaves_no_actor_on_the_connection(tenant, client, signed_in):
    signed_in(Role.ADMIN)
    assert client.get("/customers/").status_code == 200
    assert _settings() == NOTHING
    assert tenant.client().get("/api/v1/customers").status_code == 200
    assert _settings() == NOTHING


def test_a_block_restores_the_actor_it_found(tenant):
    outer = Actor.system("nightly import")
    with tenant_context(tenant.organization), audit_context(channel="system", actor=outer):
        with audit_context(channel="dashboard", actor=Actor("user", "7", "ana@acme.test"),
                           ip="203.0.113.7", request_id="r-1"):
            assert _settings() == ["dashboard", "user", "7", "ana@acme.test", "203.0.113.7",
                                   "r-1"]
        assert _settings() == ["system", "system", "", "nightly import", "", ""]
        assert current_audit_context().actor == outer
    assert _settings() == NOTHING


def test_an_address_that_is_not_one_is_left_out(tenant):
    with audit_context(channel="api", actor=Actor.system(), ip="unknown"):
        assert _settings()[4] == ""


def test_a_write_outside_any_block_is_the_systems(tenant):
    with tenant_context(tenant.organization):
        customer = customer_create(organization=tenant.organization, external_id="acme",
                                   name="Acme", currency="USD")
    [event] = audit_events(tenant.organization, object_id=customer.id)
    assert (event.channel, event.actor_type, event.actor_id, event.actor_label, event.ip,
            event.request_id) == ("system", "system", "", "", None, "")


def test_bookkeeping_alone_records_nothing(tenant):
    client = tenant.client(Role.ADMIN)  # the key is made: one event
    key = ApiKey.objects.for_organization(tenant.organization).get(name="admin key")
    ApiKey.objects.for_organization(tenant.organization).filter(id=key.id).update(
        last_used_at=None)
    assert client.get("/api/v1/organization").status_code == 200  # stamps its last use
    key.refresh_from_db()
    assert key.last_used_at is not None
    with tenant_context(tenant.organization):
        customer = customer_create(organization=tenant.organization, external_id="acme",
                                   name="Acme", currency="USD")
        customer_update(customer=customer, name="Acme")  # the same name: updated_at only

    assert [(e.object_type, e.action) for e in audit_events(tenant.organization)
            if e.object_type in ("api_key", "customer")] == [
        ("api_key", "created"), ("customer", "created")]


# --- The history replays ----------------------------------------------------------------------

NAMES = ["Acme", "Acme Inc", "Acme Group", "ACME"]
EDITS = {
    "name": st.sampled_from(NAMES),
    "payment_terms_days": st.sampled_from([0, 15, 30, 45, 60]),
    "tax_exempt": st.booleans(),
    "emails": st.lists(st.sampled_from(["ap@acme.test", "cfo@acme.test"]), max_size=2,
                       unique=True),
    "attributes": st.dictionaries(st.sampled_from(["segment", "region"]),
                                  st.sampled_from(["enterprise", "eu"]), max_size=2),
}
FIELDS = list(EDITS)


class CustomerHistory(RuleBasedStateMachine):
    """One customer per example, edited by a random sequence of (possibly empty) changes."""

    @initialize()
    def setup(self):
        email = f"owner-{uuid.uuid4().hex[:8]}@acme.test"
        owner = get_user_model().objects.create_user(username=email, email=email)
        self.organization = tenancy.organization_create(
            name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}", owner=owner)
        with tenant_context(self.organization):
            self.customer = customer_create(organization=self.organization,
                                            external_id="acme", name="Acme", currency="USD")
        self.writes = 0  # the writes that changed something

    @rule(data=st.data(), fields=st.sets(st.sampled_from(FIELDS), min_size=1, max_size=3))
    def edit(self, data, fields):
        changes = {name: data.draw(EDITS[name], label=name) for name in fields}
        with tenant_context(self.organization):
            before = Customer.objects.for_organization(self.organization).get(
                id=self.customer.id)
            customer_update(customer=self.customer, **changes)
        if any(getattr(before, name) != value for name, value in changes.items()):
            self.writes += 1

    @invariant()
    def the_trail_replays_the_row(self):
        events = audit_events(self.organization, object_id=self.customer.id)
        assert [e.action for e in events] == ["created"] + ["changed"] * self.writes
        row = dict(events[0].snapshot)
        for event in events[1:]:
            for name, (old, new) in event.changes.items():
                assert row[name] == old, name  # the old value is the row just before
                row[name] = new
        with tenant_context(self.organization):
            now = Customer.objects.for_organization(self.organization).get(
                id=self.customer.id)
        assert {name: row[name] for name in FIELDS} == {
            name: getattr(now, name) for name in FIELDS}
        assert not any(isinstance(value, float) for value in row.values())


def test_the_trail_replays_any_sequence_of_changes():
    run_state_machine_as_test(CustomerHistory, settings=settings(
        max_examples=15, stateful_step_count=8, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck)))
