"""The dashboard's audit log: the organization's audit events, newest first, with the API's
filters (a GET form), older pages by the write order (``?before=<sequence>``: no count of a
table that only grows), and "Export CSV" (the same query string with ``format=csv``, at most
``selectors.MAX_EXPORT`` events). Owners and admins only, as the API.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from zenskar.audit import describe, exports, selectors
from zenskar.audit.forms import AuditFilterForm
from zenskar.audit.models import Action, AuditEvent
from zenskar.dashboard import csv_export
from zenskar.dashboard.filters import day_after, day_start, refused
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import MANAGE_ROLES

PAGE_SIZE = 50

# The page an object is shown on: (URL name, whose id -- the object's or its parent's).
OBJECT_PAGES = {
    "customer": ("contracts:customer-detail", "object"),
    "product": ("contracts:product-detail", "object"),
    "contract": ("contracts:contract-detail", "object"),
    "contract_phase": ("contracts:contract-detail", "parent"),
    "discount": ("contracts:contract-detail", "parent"),
    "invoice": ("invoicing:invoice-detail", "object"),
    "invoice_line": ("invoicing:invoice-detail", "parent"),
    "credit_note": ("invoicing:invoice-detail", "parent"),
    "payment": ("payments_dashboard:payment-detail", "object"),
    "refund": ("payments_dashboard:payment-detail", "parent"),
}
TONES = {Action.CREATED: "ok", Action.DELETED: "danger"}
SNAPSHOT_FIELDS = 40  # fields of a created or deleted row shown (all are in the export)


def object_url(event: AuditEvent) -> str:
    """The page of the event's object (or of the object that lists it), "" for none -- and
    for a deleted object, whose page is gone."""
    page = OBJECT_PAGES.get(event.object_type)
    if page is None or event.action == Action.DELETED:
        return ""
    name, whose = page
    target = event.object_id if whose == "object" else event.parent_id
    if target is None:
        return ""
    try:
        return reverse(name, args=[target])
    except NoReverseMatch:
        return ""


def history_url(object_id: uuid.UUID) -> str:
    """The audit log filtered to one object."""
    return f"{reverse('audit:audit-log')}?object_id={object_id}"


def event_row(event: AuditEvent) -> dict:
    """What a page shows of one event (``audit/_events.html``)."""
    snapshot = [(name, describe.value_text(value))
                for name, value in sorted((event.snapshot or {}).items())][:SNAPSHOT_FIELDS]
    return {"event": event, "title": describe.title(event), "actor": describe.actor(event),
            "origin": describe.origin(event), "changes": describe.changes(event),
            "snapshot": snapshot, "tone": TONES.get(event.action, ""),
            "url": object_url(event), "history": history_url(event.object_id)}


@member_required(roles=MANAGE_ROLES)
def audit_log(request):
    organization = request.organization
    exporting = csv_export.wants_csv(request)
    form = AuditFilterForm(request.GET)
    bad = refused(request, form, exporting=exporting)
    filters = form.values()
    events = selectors.events_list(
        organization=organization, object_type=filters.get("object_type", ""),
        object_id=filters.get("object_id"), actor=filters.get("actor", ""),
        channel=filters.get("channel", ""), action=filters.get("action", ""),
        since=day_start(filters["since"]) if filters.get("since") else None,
        until=day_after(filters["until"]) if filters.get("until") else None)
    if exporting and not bad:
        if not selectors.too_many_to_export(events):
            return exports.csv_file(events, organization, filename="audit-log.csv")
        messages.error(request, f"No export: more than {selectors.MAX_EXPORT:,} events. "
                                "Narrow the filters (the days, the object, who).")
    before = request.GET.get("before", "")
    if before.isdigit() and len(before) <= 19:
        events = events.filter(sequence__lt=int(before))
    page = list(events[:PAGE_SIZE + 1])
    older = page[PAGE_SIZE - 1].sequence if len(page) > PAGE_SIZE else None
    query = request.GET.copy()
    for name in ("before", "format"):
        query.pop(name, None)
    return render(request, "audit/audit_log.html", {
        "rows": [event_row(event) for event in page[:PAGE_SIZE]], "form": form,
        "filtered": form.given(), "query": query.urlencode(), "older": older,
        "newer": bool(before), "active": "audit",
    }, status=400 if exporting else 200)
