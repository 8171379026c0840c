"""Domain events between apps: the one way an earlier app lets a later one react.

An app never imports a later one (see DESIGN.md). Instead the earlier app ``publish``es an
event and the later app ``subscribe``s a handler in its ``AppConfig.ready``:

- ``phase="transaction"`` handlers run at once, inside the publisher's transaction, so their
  writes commit or roll back with it (ledger postings);
- ``phase="commit"`` handlers run after the transaction commits, and never if it rolls back
  (work outside the database goes through the outbox from such a handler).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import transaction

logger = logging.getLogger(__name__)

Phase = Literal["transaction", "commit"]
Handler = Callable[["DomainEvent"], None]


@dataclass(frozen=True)
class DomainEvent:
    name: str
    organization_id: uuid.UUID
    payload: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid.uuid4)


_handlers: dict[tuple[str, Phase], list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler, *, phase: Phase = "transaction") -> None:
    """Register ``handler`` for events called ``name``. Registering twice is a no-op."""
    if handler not in _handlers[(name, phase)]:
        _handlers[(name, phase)].append(handler)


def unsubscribe(name: str, handler: Handler, *, phase: Phase = "transaction") -> None:
    if handler in _handlers[(name, phase)]:
        _handlers[(name, phase)].remove(handler)


def publish(event: DomainEvent) -> None:
    """Deliver ``event``: transaction handlers now (an exception aborts the publisher's
    transaction), commit handlers once the surrounding transaction commits."""
    for handler in list(_handlers[(event.name, "transaction")]):
        handler(event)
    for handler in list(_handlers[(event.name, "commit")]):
        transaction.on_commit(lambda h=handler: _run_after_commit(h, event))


def _run_after_commit(handler: Handler, event: DomainEvent) -> None:
    try:
        handler(event)
    except Exception:
        # The publisher's work is committed; a failing follower must not undo or hide it.
        logger.exception("domain event handler %r failed for %s %s", handler, event.name, event.id)
