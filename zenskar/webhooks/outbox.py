"""Writing to the outbox. Call inside the transaction that makes the change.

An organization with an enabled webhook endpoint gets its events dispatched as soon as the
transaction commits (a task queued once per transaction); beat's run every minute catches
up whatever that missed (a broker briefly down)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from zenskar.tenancy.models import Organization
from zenskar.webhooks.models import Endpoint, OutboxEvent


def outbox_write(*, organization: Organization | uuid.UUID, event_type: str, subject_id: Any,
                 payload: dict[str, Any]) -> None:
    """Record ``event_type`` about ``subject_id`` once (a unique constraint: a retried
    transaction writes it again harmlessly)."""
    outbox_write_many(organization=organization, event_type=event_type,
                      events=[(subject_id, payload)])


def outbox_write_many(*, organization: Organization | uuid.UUID, event_type: str,
                      events: list[tuple[Any, dict[str, Any]]]) -> None:
    """:func:`outbox_write` for many ``(subject_id, payload)`` in one statement."""
    if not events:
        return
    organization_id = organization.id if isinstance(organization, Organization) \
        else organization
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                organization_id=organization_id, event_type=event_type, subject_id=str(subject_id),
                payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
            )
            for subject_id, payload in events
        ],
        ignore_conflicts=True,
    )
    _dispatch_after_commit(organization_id)


@dataclass(frozen=True)
class _Dispatch:
    """The after-commit callback that queues the organization's dispatch; equal for equal
    organizations, so a transaction writing many events queues it once."""

    organization_id: uuid.UUID

    def __call__(self) -> None:
        from zenskar.webhooks import tasks

        tasks.dispatch_events.delay(str(self.organization_id))


def _dispatch_after_commit(organization_id: uuid.UUID) -> None:
    connection = transaction.get_connection()
    kick = _Dispatch(organization_id)
    if any(callback == kick for _, callback, _ in connection.run_on_commit):
        return
    if not Endpoint.objects.for_organization(organization_id).filter(enabled=True).exists():
        return  # nobody listens: beat's run marks the events dispatched
    transaction.on_commit(kick, robust=True)
