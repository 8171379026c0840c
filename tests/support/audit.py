"""The audit trail in the tests: the events of an organization as a test reads them, and the
one way past the trail's refusal of TRUNCATE for the test database's flush.

The trail refuses UPDATE, DELETE and TRUNCATE from every role that fires triggers, the owner
too. Tests that commit (``COMMITTING``) are cleaned up by Django's flush, a TRUNCATE of every
table through the owner alias: that flush runs with ``session_replication_role = replica``
(triggers off), which only the server's superuser may set -- the tests' owner role is one,
an application's owner need not be.
"""

from __future__ import annotations

import pytest
from django.db.backends.postgresql.operations import DatabaseOperations

from zenskar.audit.models import AuditEvent
from zenskar.tenancy.context import tenant_context


@pytest.fixture(scope="session", autouse=True)
def flush_past_the_audit_trail():
    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        if self.connection.alias == "owner" and sql_list:
            sql_list = ["SET LOCAL session_replication_role = replica", *sql_list]
        return original(self, sql_list)

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


def audit_events(organization, **filters) -> list[AuditEvent]:
    """The organization's audit events matching ``filters`` (model lookups), oldest first,
    read under its row-level security."""
    with tenant_context(organization):
        return list(AuditEvent.objects.for_organization(organization).filter(**filters)
                    .order_by("sequence"))


def last_event(organization, **filters) -> AuditEvent:
    """The newest event matching ``filters``; fails when there is none."""
    events = audit_events(organization, **filters)
    assert events, f"no audit event matches {filters}"
    return events[-1]
