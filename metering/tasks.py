"""Pulling usage on schedule: every minute, each organization sends one sync task per due
data source (each source has its own interval and back-off)."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from metering import sync
from metering.models import DataSource
from zenskar.tenancy.models import Organization
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="metering.sync_due_sources", time_limit=120)
def sync_due_sources(organization: Organization) -> int:
    """Send ``metering.sync_source`` once per due source of the organization, after the claim
    commits. Safe to run twice at once: a source is claimed by one beat only. Returns how many
    were sent."""
    with transaction.atomic():
        due = sync.sources_due(organization=organization)
        for source_id in due:
            transaction.on_commit(partial(sync_source.delay, str(organization.id), source_id))
    return len(due)


@tenant_task(name="metering.sync_source", soft_time_limit=15 * 60, time_limit=20 * 60)
def sync_source(organization: Organization, source_id: str) -> str | None:
    """Sync one source; returns the run's status. A failure is recorded on the run, not
    raised (nothing here is worth a Celery retry: the source's back-off schedules the next
    attempt). A source deleted or disabled since it was sent is skipped."""
    source = DataSource.objects.for_organization(organization).filter(
        id=source_id, enabled=True).first()
    if source is None:
        return None
    return sync.data_source_sync(source=source).status
