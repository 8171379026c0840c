"""Dashboard pages for money after the invoice: the credit notes (a list with its filters and
its CSV file, each note's PDF) and the customer's balance -- a panel on the customer page (a
``zenskar.dashboard.panels`` panel of the slot ``CUSTOMER_DETAIL``: the page belongs to
contracts, an earlier app) with the credit per currency, open and overdue amounts, the
movements, the lots and a "Grant credit" form.

Thin adapters: reads through ``invoicing.selectors``, writes through ``invoicing.services``;
every read is filtered by ``request.organization``.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import selectors as contracts
from contracts.models import Customer, Product
from invoicing import delivery, selectors, services
from invoicing.forms import CreditGrantForm, CreditNoteFilterForm
from invoicing.models import CreditNote
from invoicing.sandbox import TemplateError
from zenskar.core.dates import end_of_day
from zenskar.dashboard import csv_export
from zenskar.dashboard.filters import day_after, day_start, refused
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.tenancy.models import WRITE_ROLES

PAGE_SIZE = 50
MOVEMENTS_SHOWN = 20


# --- Credit notes -----------------------------------------------------------------------------


CREDIT_NOTE_COLUMNS = ["number", "issued_at", "invoice_number", "customer_external_id",
                       "customer", "reason", "destination", "currency", "subtotal", "tax",
                       "total", "amount_credited", "to_customer_credit", "to_refund", "id"]


def _credit_notes_csv(request, notes):
    money = csv_export.money
    return csv_export.csv_response(
        filename="credit-notes.csv", header=CREDIT_NOTE_COLUMNS,
        organization=request.organization,
        rows=([n.number, n.created_at, n.invoice.number, n.invoice.customer.external_id,
               n.invoice.customer.name, n.reason, n.destination, n.currency,
               money(n.subtotal, n.currency), money(n.tax_total, n.currency),
               money(n.total, n.currency), money(n.amount_credited, n.currency),
               money(n.to_customer_credit, n.currency), money(n.to_refund, n.currency), n.id]
              for n in notes.iterator(chunk_size=2000)))


@member_required
def credit_note_list(request):
    organization = request.organization
    exporting = csv_export.wants_csv(request)
    form = CreditNoteFilterForm(
        request.GET, currencies=contracts.customer_currencies(organization=organization))
    bad = refused(request, form, exporting=exporting)
    filters = form.values()
    customer = filters.get("customer")  # the customer's id or external id
    try:
        customer_id = uuid.UUID(customer) if customer else None
    except ValueError:
        customer_id = None
    notes = selectors.credit_notes_list(
        organization=organization, customer_external_id=customer, customer_id=customer_id,
        currency=filters.get("currency"), destination=filters.get("destination"),
        issued_from=day_start(filters["issued_from"]) if "issued_from" in filters else None,
        issued_before=day_after(filters["issued_to"]) if "issued_to" in filters else None)
    if exporting and not bad:
        return _credit_notes_csv(request, notes)
    page = Paginator(notes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "invoicing/credit_note_list.html", {
        "page": page, "active": "invoices", "customer": customer or "",
        "form": form, "filtered": form.given(),
        "rows": [{"note": note, "total": format_money(note.total, note.currency),
                  "credited": format_money(note.amount_credited, note.currency),
                  "to_credit": format_money(note.to_customer_credit, note.currency),
                  "to_refund": format_money(note.to_refund, note.currency)} for note in page],
    }, status=400 if exporting else 200)


@member_required
def credit_note_pdf(request, credit_note_id):
    note = get_object_or_404(CreditNote.objects.for_organization(request.organization)
                             .select_related("invoice__customer"), id=credit_note_id)
    try:
        pdf = delivery.credit_note_pdf(note=note)
    except TemplateError as error:
        messages.error(request, f"The credit note cannot be rendered: {error}")
        return redirect("invoicing:invoice-detail", invoice_id=note.invoice_id)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{note.number}.pdf"'
    return response


# --- The customer's balance -------------------------------------------------------------------


def _grant_form(request, customer: Customer, data=None) -> CreditGrantForm:
    products = Product.objects.for_organization(request.organization).order_by("name")
    return CreditGrantForm(data, products=products, currency=customer.currency,
                           auto_id="grant-%s")


def customer_balance_panel(request, customer: Customer) -> str:
    """The customer page's "Balance" section (the dashboard panel of ``CUSTOMER_DETAIL``)."""
    organization = request.organization
    balances = selectors.customer_balance(organization=organization, customer=customer)
    movements = selectors.customer_credit_movements(organization=organization,
                                                    customer=customer).order_by(
        "-created_at", "-id")[:MOVEMENTS_SHOWN]
    grants = selectors.customer_credit_grants(organization=organization, customer=customer,
                                              open_only=True).order_by("expires_at", "id")
    products = dict(Product.objects.for_organization(organization).values_list("id", "sku"))
    return render_to_string("invoicing/_customer_balance.html", {
        "customer": customer,
        "balances": [{"currency": b.currency,
                      "credit": format_money(b.credit_balance, b.currency),
                      "open": format_money(b.open_amount_due, b.currency),
                      "overdue": format_money(b.overdue, b.currency), "late": b.overdue > 0}
                     for b in balances],
        "movements": [{"movement": m, "amount": format_money(m.amount, m.currency),
                       "kind": m.get_kind_display()} for m in movements],
        "grants": [{"grant": g, "remaining": format_money(g.remaining, g.currency),
                    "amount": format_money(g.amount, g.currency),
                    "products": [products.get(p, "?") for p in g.product_ids]}
                   for g in grants],
        "form": _grant_form(request, customer),
        "can_write": request.membership.role in WRITE_ROLES,
    }, request=request)



@member_required(roles=WRITE_ROLES)
@require_POST
def customer_credit_grant(request, customer_id):
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    form = _grant_form(request, customer, request.POST)
    back = reverse("contracts:customer-detail", args=[customer.id]) + "#balance"
    if form.is_valid():
        data = form.cleaned_data
        try:
            grant = services.customer_credit_grant(
                organization=request.organization, customer=customer, amount=data["amount"],
                currency=data["currency"], reason=data["reason"],
                expires_at=end_of_day(data["usable_through"], request.organization.time_zone),
                products=data["products"] or None,
                granted_by=request.user.email or request.user.get_username())
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Granted {format_money(grant.amount, grant.currency)} of "
                                      f"credit to {customer.name}.")
            return redirect(back)
    problems = [f"{'' if name == '__all__' else name.replace('_', ' ') + ': '}{message}"
                for name, errors in form.errors.items() for message in errors]
    messages.error(request, "No credit was granted. " + " ".join(problems))
    return redirect(back)
