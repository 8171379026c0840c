"""Writing to the outbox. Call inside the transaction that makes the change."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from zenskar.webhooks.models import OutboxEvent


def outbox_write(*, organization, event_type: str, subject_id, payload: dict[str, Any]) -> None:
    """Record ``event_type`` about ``subject_id`` once (a unique constraint: a retried
    transaction writes it again harmlessly)."""
    outbox_write_many(organization=organization, event_type=event_type,
                      events=[(subject_id, payload)])


def outbox_write_many(*, organization, event_type: str,
                      events: list[tuple[Any, dict[str, Any]]]) -> None:
    """:func:`outbox_write` for many ``(subject_id, payload)`` in one statement."""
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                organization=organization, event_type=event_type, subject_id=str(subject_id),
                payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
            )
            for subject_id, payload in events
        ],
        ignore_conflicts=True,
    )
