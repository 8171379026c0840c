"""What invoicing shows on the customer page (a page of contracts, an earlier app, filled
through ``zenskar.dashboard.panels``):

- in the summary strip (``CUSTOMER_SUMMARY``): what its finalized invoices still owe, the part
  overdue, its credit balance and what it was billed in the last twelve months, each a link
  to the list behind it;
- the "Invoices" section (``CUSTOMER_DETAIL``): its latest invoices with their display status,
  the upcoming invoice, its latest credit notes;
- its entries in the page's activity (``CUSTOMER_TIMELINE``): invoices issued, paid, voided
  and e-mailed, credit notes issued and e-mailed.

Reads only, each a bounded number of queries whatever the customer's history.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from contracts.models import Customer
from invoicing import selectors
from invoicing.models import CreditNote, Invoice, InvoiceSettlement
from invoicing.views.invoice_list import status_badge
from zenskar.dashboard import overview, panels
from zenskar.dashboard.panels import TimelineEntry
from zenskar.formatting import format_money

INVOICES_SHOWN = 10
CREDIT_NOTES_SHOWN = 5
RECENT_NOTES = 30  # credit notes read once for the page: its section and its activity


def _recent_notes(request: HttpRequest, customer: Customer, limit: int) -> list[CreditNote]:
    """The customer's latest credit notes, newest first: one query per request when ``limit``
    is within ``RECENT_NOTES`` (the section and the activity share it)."""
    def load(count: int) -> list[CreditNote]:
        return list(CreditNote.objects.for_organization(request.organization)
                    .filter(invoice__customer=customer).select_related("invoice")
                    .order_by("-created_at")[:count])
    if limit > RECENT_NOTES:
        return load(limit)
    notes = panels.shared(request, f"invoicing.credit_notes:{customer.id}",
                          lambda: load(RECENT_NOTES))
    return notes[:limit]


def _invoice_list(**query: str) -> str:
    return f"{reverse('invoicing:invoice-list')}?{urlencode(query)}"


# --- The summary strip --------------------------------------------------------------------------


def customer_summary_panel(request: HttpRequest, customer: Customer) -> str:
    """Four cards in the customer's currency; an amount in another currency is said under its
    card (two currencies are never added)."""
    today = overview.today(request.organization)
    since = overview.month_starts(today)[0]  # the twelve months the home page charts
    figures = selectors.customer_figures(organization=request.organization, customer=customer,
                                         billed_from=since, today=today)
    mine, others = figures[0], figures[1:]
    external_id = customer.external_id

    def card(label: str, name: str, url: str, testid: str, *, warn: bool = False) -> dict:
        return {"label": label, "url": url, "testid": testid,
                "value": format_money(getattr(mine, name), mine.currency),
                "warn": warn and getattr(mine, name) > 0,
                "others": [format_money(getattr(f, name), f.currency) for f in others
                           if getattr(f, name)]}

    return render_to_string("invoicing/_customer_summary.html", {"cards": [
        card("Open amount due", "open_due",
             _invoice_list(customer=external_id, status=Invoice.Status.FINALIZED),
             "summary-open"),
        card("Overdue", "overdue", _invoice_list(customer=external_id, status="overdue"),
             "summary-overdue", warn=True),
        card("Credit balance", "credit", "#balance", "summary-credit"),
        card("Billed, last 12 months", "billed",
             _invoice_list(customer=external_id, issued_from=since.isoformat(),
                           issued_to=today.isoformat()),
             "summary-billed"),
    ]}, request=request)


# --- The invoices section -----------------------------------------------------------------------


def customer_invoices_panel(request: HttpRequest, customer: Customer) -> str:
    """The latest invoices (newest billing date first, as the invoice list), the upcoming
    invoice's page, the latest credit notes. Two queries (the credit notes shared with the
    activity)."""
    organization = request.organization
    latest = (Invoice.objects.for_organization(organization).filter(customer=customer)
              .order_by("-billing_date", "-created_at")[:INVOICES_SHOWN])
    notes = _recent_notes(request, customer, CREDIT_NOTES_SHOWN)
    today = overview.today(organization)
    return render_to_string("invoicing/_customer_invoices.html", {
        "customer": customer,
        "all_url": _invoice_list(customer=customer.external_id),
        "notes_url": f"{reverse('invoicing:credit-note-list')}?"
                     f"{urlencode({'customer': customer.external_id})}",
        "invoices": [{"invoice": invoice, "display": status_badge(invoice),
                      "total": format_money(invoice.total, invoice.currency),
                      "due": format_money(invoice.amount_due, invoice.currency),
                      "overdue": invoice.status == Invoice.Status.FINALIZED
                      and invoice.amount_due > 0 and invoice.due_date is not None
                      and invoice.due_date < today}
                     for invoice in latest],
        "notes": [{"note": note, "total": format_money(note.total, note.currency)}
                  for note in notes],
    }, request=request)


# --- The activity -------------------------------------------------------------------------------


def _invoice_url(invoice_id) -> str:
    return reverse("invoicing:invoice-detail", args=[invoice_id])


def customer_timeline(request: HttpRequest, customer: Customer,
                      limit: int) -> list[TimelineEntry]:
    """Invoices issued, paid (the settlement that left nothing due), voided and e-mailed;
    credit notes issued and e-mailed. Three queries (the credit notes shared with the
    section): the ``limit`` invoices whose last event is the newest hold every invoice entry
    among the newest ``limit``."""
    organization = request.organization
    entries: list[TimelineEntry] = []
    invoices = (Invoice.objects.for_organization(organization).filter(customer=customer)
                .annotate(last=Greatest("finalized_at", "voided_at", "sent_at"))
                .filter(last__isnull=False).order_by("-last")[:limit])
    for invoice in invoices:
        url = _invoice_url(invoice.id)
        if invoice.finalized_at is not None:
            entries.append(TimelineEntry(
                invoice.finalized_at,
                f"Invoice {invoice.number} issued: "
                f"{format_money(invoice.total, invoice.currency)}"
                + (f", due {invoice.due_date.isoformat()}" if invoice.due_date else ""),
                url, "Invoice"))
        if invoice.voided_at is not None:
            entries.append(TimelineEntry(invoice.voided_at, f"Invoice {invoice} voided", url,
                                         "Invoice"))
        if invoice.sent_at is not None:
            entries.append(TimelineEntry(
                invoice.sent_at,
                f"Invoice {invoice} e-mailed to {', '.join(customer.emails) or 'the customer'}",
                url, "E-mail"))
    paid = (InvoiceSettlement.objects.for_organization(organization)
            .filter(invoice__customer=customer, status_after=Invoice.Status.PAID)
            .filter(~Q(status_before=F("status_after")))
            .select_related("invoice").order_by("-created_at")[:limit])
    for settlement in paid:
        entries.append(TimelineEntry(
            settlement.created_at, f"Invoice {settlement.invoice} paid in full",
            _invoice_url(settlement.invoice_id), "Invoice"))
    for note in _recent_notes(request, customer, limit):
        entries.append(TimelineEntry(
            note.created_at,
            f"Credit note {note.number} issued on {note.invoice}: "
            f"{format_money(note.total, note.currency)} ({note.reason})",
            _invoice_url(note.invoice_id), "Credit note"))
        if note.sent_at is not None:
            entries.append(TimelineEntry(
                note.sent_at, f"Credit note {note.number} e-mailed",
                _invoice_url(note.invoice_id), "E-mail"))
    return entries
