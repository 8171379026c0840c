"""What the dashboard's global search finds in invoicing: invoices and credit notes by number
(panels of the slot ``SEARCH``, see ``zenskar.dashboard.panels``)."""

from __future__ import annotations

from django.urls import reverse

from invoicing import selectors
from invoicing.views.invoice_list import status_badge
from zenskar.dashboard.search import Result, results_panel
from zenskar.formatting import format_money

LIMIT = 20


def invoices_found(request, query: str) -> str:
    invoices = selectors.invoices_search(organization=request.organization, query=query,
                                         limit=LIMIT + 1)
    return results_panel(request, title="Invoices", kind="invoices", limit=LIMIT, results=[
        Result(url=reverse("invoicing:invoice-detail", args=[invoice.id]), title=invoice.number,
               detail=" · ".join(filter(None, [
                   invoice.customer.name, format_money(invoice.total, invoice.currency),
                   (status_badge(invoice)["label"] or invoice.status).lower(),
                   f"issued {invoice.issue_date.isoformat()}" if invoice.issue_date else ""])))
        for invoice in invoices])


def credit_notes_found(request, query: str) -> str:
    notes = selectors.credit_notes_search(organization=request.organization, query=query,
                                          limit=LIMIT + 1)
    return results_panel(request, title="Credit notes", kind="credit-notes", limit=LIMIT,
                         results=[
        Result(url=reverse("invoicing:invoice-detail", args=[note.invoice_id]),
               title=note.number,
               detail=" · ".join([note.invoice.customer.name,
                                  format_money(note.total, note.currency),
                                  f"on invoice {note.invoice.number}"]))
        for note in notes])
