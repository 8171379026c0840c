"""Celery plumbing for tenant work: a task runs for one organization, under its row-level
security; periodic jobs fan out one task per organization."""

from __future__ import annotations

import functools

from celery import shared_task

from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Organization


def tenant_task(*, name: str, **options):
    """Declare a task whose first argument is an organization id.

    The body receives the Organization and runs inside ``tenant_context``: its queries see
    that organization's rows only. A missing organization (deleted since) is a no-op.
    """

    def decorate(func):
        @shared_task(name=name, **options)
        @functools.wraps(func)
        def run(organization_id: str, *args, **kwargs):
            organization = Organization.objects.filter(id=organization_id).first()
            if organization is None:
                return None
            with tenant_context(organization):
                return func(organization, *args, **kwargs)

        return run

    return decorate


@shared_task(name="tenancy.for_each_organization", time_limit=300)
def for_each_organization(task_name: str, *args) -> int:
    """Send ``task_name(organization_id, *args)`` once per organization. Returns how many."""
    from celery import current_app

    ids = list(Organization.objects.values_list("id", flat=True))
    for organization_id in ids:
        current_app.send_task(task_name, args=(str(organization_id), *args))
    return len(ids)
