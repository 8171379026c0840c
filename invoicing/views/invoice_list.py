"""The invoice list: status tabs (with "Partially paid", a display status computed from the
amounts), filters (customer, currency, billing and issue dates), the contracts that could not
be billed, the same list as a CSV file (``format=csv``), and the bulk actions on the invoices
ticked in it (``invoicing.views.bulk``)."""

from __future__ import annotations

from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.shortcuts import render
from django.utils import timezone

from contracts import selectors as contracts
from contracts.models import Customer
from invoicing import selectors
from invoicing.forms import InvoiceFilterForm
from invoicing.models import Invoice
from zenskar.dashboard import csv_export
from zenskar.dashboard.filters import refused
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money

PARTIALLY_PAID = selectors.PARTIALLY_PAID
STATUS_TABS = ["all", Invoice.Status.DRAFT, Invoice.Status.FINALIZED, PARTIALLY_PAID,
               Invoice.Status.PAID, Invoice.Status.VOID, Invoice.Status.UNCOLLECTIBLE, "overdue"]
TAB_LABELS = {PARTIALLY_PAID: "Partially paid"}
PAGE_SIZE = 50
CSV_COLUMNS = ["number", "status", "customer_external_id", "customer", "billing_date",
               "issue_date", "due_date", "currency", "subtotal", "tax", "total",
               "amount_paid", "amount_due", "id"]


def status_badge(invoice: Invoice) -> dict:
    """The status an invoice's badge shows, with its words: "Partially paid" when finalized
    and paid in part, else its own status (its value is its word)."""
    status = selectors.invoice_display_status(invoice=invoice)
    return {"status": status, "label": TAB_LABELS.get(status)}


def _sums(invoices) -> list[str]:
    """Amounts due per currency (two currencies are never added)."""
    rows = invoices.order_by().values("currency").annotate(due=Sum("amount_due"))
    return [format_money(row["due"], row["currency"])
            for row in sorted(rows, key=lambda r: r["currency"]) if row["due"]]


def _filters(form: InvoiceFilterForm) -> dict:
    values = form.values()
    through, issued_through = values.get("date_to"), values.get("issued_to")
    # "through" is inclusive on the page; the selector's bounds are exclusive
    return {"customer": values.get("customer"), "currency": values.get("currency"),
            "date_from": values.get("date_from"),
            "date_to": through + timedelta(days=1) if through else None,
            "issued_from": values.get("issued_from"),
            "issued_to": issued_through + timedelta(days=1) if issued_through else None}


def _csv(request, invoices):
    return csv_export.csv_response(
        filename="invoices.csv", header=CSV_COLUMNS, organization=request.organization,
        rows=([i.number, selectors.invoice_display_status(invoice=i), i.customer.external_id,
               i.customer.name, i.billing_date, i.issue_date, i.due_date, i.currency,
               csv_export.money(i.subtotal, i.currency),
               csv_export.money(i.tax_total, i.currency), csv_export.money(i.total, i.currency),
               csv_export.money(i.amount_paid, i.currency),
               csv_export.money(i.amount_due, i.currency), i.id]
              for i in invoices.iterator(chunk_size=2000)))


@member_required
def invoice_list(request):
    organization = request.organization
    exporting = csv_export.wants_csv(request)
    customers = list(Customer.objects.for_organization(organization).only(
        "id", "external_id", "name").order_by("name"))
    form = InvoiceFilterForm(request.GET, customers=customers,
                             currencies=contracts.customer_currencies(organization=organization))
    # a bad filter is said, shown on its field and not applied; an export is not made
    bad = refused(request, form, exporting=exporting)
    filters = _filters(form)
    status = request.GET.get("status", "all")
    status = status if status in STATUS_TABS else "all"

    base = selectors.invoices_list(organization=organization, **filters)
    overdue = selectors.invoices_list(organization=organization, overdue=True, **filters)
    invoices = overdue if status == "overdue" else (
        base if status == "all" else selectors.invoices_list(
            organization=organization, status=status, **filters))
    if exporting and not bad:
        return _csv(request, invoices)

    counts = dict(base.order_by().values_list("status").annotate(n=Count("id")))
    counts["all"], counts["overdue"] = sum(counts.values()), overdue.count()
    counts[PARTIALLY_PAID] = base.filter(selectors.partially_paid()).count()
    page = Paginator(invoices.select_related("customer"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    today = timezone.now().date()
    query = request.GET.copy()
    for name in ("page", "format"):
        query.pop(name, None)
    tabs = []
    for tab in STATUS_TABS:
        query.setlist("status", [] if tab == "all" else [tab])
        tabs.append({"name": tab, "label": TAB_LABELS.get(tab, tab.capitalize()),
                     "count": counts.get(tab, 0), "query": query.urlencode()})
    failures, failing = selectors.billing_failures_open(organization=organization)
    chosen = filters["customer"]
    return render(request, "invoicing/invoice_list.html", {
        "failures": failures, "failing": failing,
        "form": form, "filtered": form.given(), "status": status, "tabs": tabs, "page": page,
        "status_label": TAB_LABELS.get(status, status).lower(),
        "rows": [{"invoice": invoice, "total": format_money(invoice.total, invoice.currency),
                  "amount_due": format_money(invoice.amount_due, invoice.currency),
                  "display": status_badge(invoice),
                  "overdue": selectors.invoice_is_owing(invoice)
                  and invoice.due_date is not None and invoice.due_date < today}
                 for invoice in page],
        "summary": {"open": _sums(base.filter(status=Invoice.Status.FINALIZED,
                                              amount_due__gt=0)),
                    "overdue": _sums(overdue), "drafts": counts.get(Invoice.Status.DRAFT, 0)},
        "customer": next((c for c in customers if c.external_id == chosen), None),
        "active": "invoices",
    }, status=400 if exporting else 200)
