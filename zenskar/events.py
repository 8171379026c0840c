"""Domain events between apps: the one way an earlier app lets a later one react.

An app never imports a later one (see DESIGN.md), and no app registers a function with an
earlier one for it to call. Instead the earlier app ``publish``es an event from the service
that made the change (or is about to), and the later app ``subscribe``s a handler in its
``AppConfig.ready``.

Two channels, one per kind of reaction -- pick by where the work lands:

- **Database work: ``phase="transaction"``.** The handler runs at once, inside the
  publisher's transaction, so its writes commit or roll back with the publisher's: ledger
  postings; refund rows of a credit note; payments opening an invoice's checkout session and
  handing the pay link to invoicing's service, which stores it on the invoice. A handler may
  refuse the change by raising ``ValidationError``: it aborts the publisher's transaction, or
  the publisher catches it and reports it with its own errors (metering refusing a contract
  that names unknown meters). Such a handler reads and writes the database, nothing else: no
  e-mail, no HTTP, no task.
- **Everything outside the database: after commit.** E-mail, outbound webhooks, gateway calls
  and Celery tasks happen once the change is committed, and never if it rolls back: an outbox
  row written in the publisher's transaction (``zenskar.webhooks.outbox``: the tenants'
  webhooks), or a ``phase="commit"`` handler that queues an idempotent task (rendering and
  mailing an invoice, an automatic charge). A failing commit handler is logged; it never
  undoes the committed change.

The events and their subscribers (in-transaction / after commit):

- ``contract.meters_named`` (contracts, before writing usage items): metering refuses the
  keys that name no meter / --
- ``contract.deleted``: invoicing resolves the contract's billing failures / --
- ``contract.features_named`` (contracts, before writing a phase's entitlement overrides):
  entitlements refuses the keys that name no feature / --
- ``contract.changed`` (every contracts service that changes what a contract grants) and
  ``product.changed`` (product_update): -- / entitlements drops the cached grants of the
  customer (of every customer, for a product)
- ``usage.ingested`` (metering, with the ids of the events stored): entitlements moves the
  customers' day counters / entitlements moves the Redis counters and marks the customers
  for the limit notices
- ``invoice.finalized``: the ledger posts AR against deferred revenue (a revenue schedule per
  ratable line or prepaid block), unbilled revenue (usage accrued before), revenue and tax;
  entitlements grants the prepaid lots its products grant at finalization /
  invoicing renders and mails it, payments charges it
- ``invoice.voided``: the ledger takes back what the invoice's schedules recognized, then
  reverses its finalization entry (and its usage accrual); receivables resumes the
  entitlements its reminders paused when no invoice behind the pause is open / the outbox
  (webhooks)
- ``invoice.uncollectible``: the ledger writes the amount due off (bad-debt expense against
  AR) / the outbox (webhooks)
- ``invoice.delivering`` (invoicing, before an invoice's PDF or e-mail goes out): payments
  gives it its pay link (a checkout session), stored on the invoice / --
- ``credit_note.issued``: payments writes the refunds; the ledger takes the note off deferred
  revenue (shrinking the line's schedule) or revenue, and tax, against AR and customer credit;
  receivables resumes paused entitlements as for ``invoice.voided`` / invoicing renders and
  mails the note
- ``payment.applied``: the ledger posts cash or gateway receivable against AR (bad-debt
  expense for a written-off invoice) and customer credit; entitlements grants the prepaid
  lots of an invoice now paid; receivables resumes paused entitlements as for
  ``invoice.voided`` / the outbox (webhooks)
- ``customer.entitlements_paused`` (receivables, a reminder step's action) and
  ``customer.entitlements_resumed`` (receivables, once the invoices behind the pause are
  settled): entitlements records or ends the customer's pause, denying every check while it
  lasts / entitlements drops the customer's cached grants
- ``payment.refunded``: the ledger posts AR or customer credit against cash or gateway
  receivable / the outbox (webhooks)
- ``credit.granted``, ``credit.applied``, ``credit.expired`` (invoicing's wallet): the ledger
  posts the movements no other event posts (a grant by a person, an invoice of credits,
  credit a voided invoice gives back; credit applied; breakage at expiry) / the outbox
  (webhooks); later, receivables

What later apps *show* on an earlier app's page is no reaction: that is the dashboard's panel
registry (``zenskar.dashboard.panels``).
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
