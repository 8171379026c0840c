"""What the audit trail adds to the pages of the domain apps (``zenskar.dashboard.panels``),
for owners and admins (the readers of the trail):

- the customer page's activity (``CUSTOMER_TIMELINE``): each change of the customer's record,
  who made it, from where, ``field: old → new``, linking to the audit log filtered to the
  customer;
- the contract page's "Changes" (``CONTRACT_DETAIL``): the contract's, its phases', price
  items' and discounts';
- the invoice page's "Changes" (``INVOICE_DETAIL``): the invoice's, its lines', credit notes'
  and payments'.

A panel reads the subject's id and organization only: this module imports no domain app.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string

from zenskar.audit import describe, selectors
from zenskar.audit.views import event_row, history_url
from zenskar.dashboard.panels import TimelineEntry
from zenskar.tenancy.models import MANAGE_ROLES

CHANGES = 20  # events of a page's "Changes"


def _reads_the_trail(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role in MANAGE_ROLES


def customer_timeline(request: HttpRequest, customer: Any, limit: int) -> list[TimelineEntry]:
    """The customer's record as it changed (one query)."""
    if not _reads_the_trail(request):
        return []
    events = selectors.object_history(organization=request.organization,
                                      object_ids=[customer.id], limit=limit)
    url = history_url(customer.id)
    return [TimelineEntry(event.occurred_at, describe.summary(event), url, "Audit")
            for event in events]


def _section(request: HttpRequest, subject: Any, events: list) -> str:
    return render_to_string("audit/_object_changes.html", {
        "rows": [event_row(event) for event in events], "history": history_url(subject.id),
    }, request=request)


def contract_changes(request: HttpRequest, contract: Any) -> str:
    if not _reads_the_trail(request):
        return ""
    events = selectors.contract_history(organization=request.organization,
                                        contract_id=contract.id, limit=CHANGES)
    return _section(request, contract, events)


def invoice_changes(request: HttpRequest, invoice: Any) -> str:
    if not _reads_the_trail(request):
        return ""
    events = selectors.object_history(organization=request.organization,
                                      object_ids=[invoice.id], parent_ids=[invoice.id],
                                      limit=CHANGES)
    return _section(request, invoice, events)
