"""Reads of the audit trail: the organization's events filtered and newest first (the API's
list and export, the dashboard's audit log), and one object's history (its page).

Every read starts at ``AuditEvent.objects.for_organization``; row-level security is the
second wall. The hot reads follow the table's indexes: (organization, sequence) for the log,
(object, sequence) and (parent, sequence) for an object's page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from zenskar.audit.models import AuditEvent
from zenskar.tenancy.models import Organization

MAX_EXPORT = 50_000  # events in one CSV file
HISTORY = 50  # events on an object's page


def events_list(*, organization: Organization, object_type: str = "",
                object_id: uuid.UUID | None = None, actor: str = "", channel: str = "",
                action: str = "", since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> QuerySet[AuditEvent]:
    """The organization's events, newest first, filtered by each filter given: ``actor``
    matches the actor's id (a user's, an API key's) or label (an e-mail, a key's name, a
    task's name), exactly; ``since`` is included, ``until`` excluded."""
    events = AuditEvent.objects.for_organization(organization)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id is not None:
        events = events.filter(object_id=object_id)
    if actor:
        events = events.filter(Q(actor_id=actor) | Q(actor_label=actor))
    if channel:
        events = events.filter(channel=channel)
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events.order_by("-sequence")


def too_many_to_export(events: QuerySet[AuditEvent]) -> bool:
    """Whether ``events`` holds more than one export's worth (counted no further)."""
    return events.order_by()[:MAX_EXPORT + 1].count() > MAX_EXPORT


def object_history(*, organization: Organization, object_ids: Iterable[uuid.UUID],
                   parent_ids: Iterable[uuid.UUID] = (),
                   limit: int = HISTORY) -> list[AuditEvent]:
    """The ``limit`` newest events of the objects ``object_ids`` and of the objects whose
    parent is one of ``parent_ids`` (an invoice's lines, a contract's phases)."""
    objects, parents = list(object_ids), list(parent_ids)
    scope = Q(object_id__in=objects)
    if parents:
        scope |= Q(parent_id__in=parents)
    return list(AuditEvent.objects.for_organization(organization).filter(scope)
                .order_by("-sequence")[:limit])


def contract_history(*, organization: Organization, contract_id: uuid.UUID,
                     limit: int = HISTORY) -> list[AuditEvent]:
    """The contract's events with its phases', discounts' and price items' -- those of phases
    since removed too (the trail knows every phase the contract ever had). Two queries."""
    phases = set(AuditEvent.objects.for_organization(organization)
                 .filter(parent_id=contract_id, object_type="contract_phase")
                 .values_list("object_id", flat=True).distinct())
    return object_history(organization=organization, object_ids=[contract_id],
                          parent_ids=[contract_id, *phases], limit=limit)


def export_rows(events: QuerySet[AuditEvent]) -> Iterable[Any]:
    """The events for a CSV file, read in chunks as the file streams."""
    return events.iterator(chunk_size=2000)
