"""Delivering webhooks on schedule: every minute beat dispatches each organization's new
outbox events into deliveries and sends the deliveries that are due; an outbox write (with
an endpoint listening), a replay or a test queues the same tasks after its commit."""

from __future__ import annotations

from zenskar.tenancy.models import Organization
from zenskar.tenancy.tasks import tenant_task
from zenskar.webhooks import delivery


@tenant_task(name="webhooks.dispatch_events", time_limit=120)
def dispatch_events(organization: Organization) -> int:
    """Make the deliveries of the organization's undispatched events (the sends are queued
    after commit). Returns how many. Safe to run twice at once."""
    return delivery.outbox_dispatch(organization=organization)


@tenant_task(name="webhooks.send_due_deliveries", soft_time_limit=110, time_limit=120)
def send_due_deliveries(organization: Organization) -> int:
    """Send the organization's due deliveries for up to 50 s (an endpoint that fails is
    rescheduled, not raised: nothing here is worth a Celery retry). Returns how many
    attempts were made."""
    return delivery.deliveries_send_due(organization=organization).attempted
