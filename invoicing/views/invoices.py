"""The invoices pages: one invoice with its lines, derivations and the actions its status
allows, hand edits of a draft, a credit note, and a customer's upcoming invoice (the list is
``invoicing.views.invoice_list``, its bulk actions ``invoicing.views.bulk``). Every change goes
through ``invoicing.services``."""

from __future__ import annotations

import smtplib
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from contracts.models import Customer
from contracts.pricing import PricingError
from contracts.schedule import ScheduleError
from invoicing import delivery, rendering, selectors, services
from invoicing.forms import (
    CreditNoteForm,
    LineForm,
    QuantityForm,
)
from invoicing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceAudit,
    InvoiceLine,
)
from invoicing.rendering import TemplateError
from invoicing.views.invoice_list import status_badge
from invoicing.views.text import (
    KIND_LABELS,
    _detail,
    derivation_view,
    input_number,
    price_text,
    quantity_text,
)
from zenskar.dashboard import panels
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.tenancy.models import WRITE_ROLES


def contract_billing_failures(request, contract) -> str:
    """The contract page's "Could not be billed" section (a dashboard panel of the slot
    ``CONTRACT_DETAIL``, see ``zenskar.dashboard.panels``): the open failures of the contract
    and of its invoices; "" when there are none."""
    failures, failing = selectors.billing_failures_open(organization=request.organization,
                                                        contract=contract)
    if not failures:
        return ""
    return render_to_string("invoicing/_billing_failures.html", {
        "failures": failures, "failing": failing, "contract": contract,
        "invoiced": selectors.contract_invoiced(organization=request.organization,
                                                contract=contract),
    }, request=request)

def _invoice(request, invoice_id) -> Invoice:
    return get_object_or_404(Invoice.objects.for_organization(request.organization)
                             .select_related("customer", "contract"), id=invoice_id)

def _actor(request) -> str:
    return request.user.email or request.user.get_username()

def _lines_left(invoice: Invoice) -> list[tuple[InvoiceLine, Decimal]]:
    """Each line of the invoice with what is left to credit on it."""
    credited = dict(CreditNoteLine.objects.for_organization(invoice.organization).filter(
        credit_note__invoice=invoice,
    ).order_by().values_list("invoice_line").annotate(total=Sum("amount")))
    lines = InvoiceLine.objects.for_organization(invoice.organization).filter(invoice=invoice)
    return [(line, line.amount - credited.get(line.id, Decimal(0)))
            for line in lines.select_related("product")]

def _detail_page(request, invoice: Invoice, *, line_form=None, credit_form=None):
    organization, currency = request.organization, invoice.currency
    lines = _lines_left(invoice)
    creditable = [(line, left) for line, left in lines if left > 0]
    try:
        # No payment link: making one opens a checkout session, a write this page does not do.
        rendered, render_error = rendering.render_invoice_html(invoice), None
    except TemplateError as error:
        rendered, render_error = "", error
    notes = CreditNote.objects.for_organization(organization).filter(invoice=invoice)
    return render(request, "invoicing/invoice_detail.html", {
        "invoice": invoice, "active": "invoices", "display": status_badge(invoice),
        "amounts": {**{name: format_money(getattr(invoice, name), currency)
                       for name in ("subtotal", "tax_total")},
                    **{name: format_money(amount, currency) for name, amount in
                       selectors.invoice_amounts(invoice=invoice).items()}},
        "shown": {name: amount != 0 for name, amount in
                  selectors.invoice_amounts(invoice=invoice).items()},
        "lines": [{"line": line, "quantity": quantity_text(line.quantity),
                   "quantity_input": "" if line.quantity is None else input_number(line.quantity),
                   "unit_price": price_text(line.unit_price, currency),
                   "amount": format_money(line.amount, currency),
                   "tax": format_money(line.tax_amount, currency) if line.tax_amount else "",
                   "credited": format_money(line.amount - left, currency) if left != line.amount
                   else "",
                   "derivation": derivation_view(line.derivation, currency)}
                  for line, left in lines],
        "credit_notes": [{"note": note, "total": format_money(note.total, currency),
                          "to_credit": format_money(note.to_customer_credit, currency)
                          if note.to_customer_credit else "",
                          "to_refund": format_money(note.to_refund, currency)
                          if note.to_refund else "",
                          "lines": [(cl.description, format_money(cl.amount, currency))
                                    for cl in note.lines.all()]}
                         for note in notes.prefetch_related("lines")],
        "audit": [{"entry": entry, "action": entry.action.replace("_", " ").capitalize(),
                   "details": [(name, _detail(value)) for name, value in entry.details.items()
                               if name != "key"]}
                  for entry in InvoiceAudit.objects.for_organization(organization).filter(
                      invoice=invoice)],
        "credit_balance": format_money(services.customer_credit_balance(
            customer=invoice.customer, currency=currency), currency),
        "line_form": line_form or LineForm(),
        "credit_form": credit_form or CreditNoteForm(
            lines=creditable, currency=currency,
            initial={"destination": "reduce_due" if invoice.amount_due > 0
                     else "customer_credit"}),
        "can_void": invoice.status == Invoice.Status.FINALIZED and invoice.amount_paid == 0,
        # a one-off draft; a contract's would come back at the next generation run
        "can_delete": invoice.status == Invoice.Status.DRAFT and not invoice.number
        and invoice.contract_id is None,
        "can_credit": invoice.status in (Invoice.Status.FINALIZED, Invoice.Status.PAID,
                                         Invoice.Status.UNCOLLECTIBLE) and bool(creditable),
        "rendered": rendered, "render_error": render_error,
        # what later apps show of the invoice (receivables: its reminders and holds)
        "panels": panels.render(panels.INVOICE_DETAIL, request, invoice),
    })

@member_required
def invoice_detail(request, invoice_id):
    return _detail_page(request, _invoice(request, invoice_id))

def _act(request, invoice_id, action, done: str):
    """Run a status change; its refusal (a ``ValidationError``) is shown, not raised."""
    invoice = _invoice(request, invoice_id)
    try:
        invoice = action(invoice)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done.format(invoice=invoice.number or "The draft"))
    return redirect("invoicing:invoice-detail", invoice_id=invoice.id)

@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_finalize(request, invoice_id):
    return _act(request, invoice_id, lambda i: services.invoice_finalize(invoice=i),
                "Invoice {invoice} finalized.")

@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_void(request, invoice_id):
    return _act(request, invoice_id,
                lambda i: services.invoice_void(invoice=i, actor=_actor(request)),
                "Invoice {invoice} voided.")

@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_mark_uncollectible(request, invoice_id):
    return _act(request, invoice_id,
                lambda i: services.invoice_mark_uncollectible(invoice=i),
                "Invoice {invoice} marked uncollectible.")

@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_send(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    emails = ", ".join(invoice.customer.emails or [])
    if not emails:
        messages.error(request, f"{invoice.customer.name} has no billing e-mail address: "
                       "add one on the customer's page.")
    else:
        try:
            delivery.invoice_send(invoice=invoice)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except TemplateError as error:
            messages.error(request, f"The invoice template cannot be rendered: {error}")
        except (OSError, smtplib.SMTPException) as error:
            messages.error(request, f"The e-mail could not be sent ({error}); try again.")
        else:
            messages.success(request, f"Invoice {invoice.number} sent to {emails}.")
    return redirect("invoicing:invoice-detail", invoice_id=invoice.id)

@member_required
def invoice_pdf(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    try:
        pdf = delivery.invoice_pdf(invoice=invoice)
    except TemplateError as error:
        messages.error(request, f"The invoice template cannot be rendered: {error}")
        return redirect("invoicing:invoice-detail", invoice_id=invoice.id)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = invoice.number or f"draft-{invoice.billing_date}"
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response

@member_required(roles=WRITE_ROLES)
@require_POST
def line_add(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    form = LineForm(request.POST)
    if form.is_valid():
        try:
            line = services.invoice_add_line(invoice=invoice, actor=_actor(request),
                                             **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Line “{line.description}” added.")
            return redirect("invoicing:invoice-detail", invoice_id=invoice.id)
    return _detail_page(request, invoice, line_form=form)

@member_required(roles=WRITE_ROLES)
@require_POST
def line_quantity(request, line_id):
    line = get_object_or_404(InvoiceLine.objects.for_organization(request.organization)
                             .select_related("invoice"), id=line_id)
    form = QuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The quantity must be a number, 0 or more.")
    else:
        try:
            line = services.invoice_override_quantity(
                line=line, quantity=form.cleaned_data["quantity"], actor=_actor(request))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"“{line.description}” is now "
                             f"{quantity_text(line.quantity)} x {price_text(line.unit_price, line.invoice.currency)}.")
    return redirect("invoicing:invoice-detail", invoice_id=line.invoice_id)

@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_delete(request, invoice_id):
    """Delete a one-off draft (``invoice_delete`` refuses a contract's draft, a numbered
    invoice, one with money recorded): back to the list, or to the invoice with the reason."""
    invoice = _invoice(request, invoice_id)
    try:
        services.invoice_delete(invoice=invoice, actor=_actor(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("invoicing:invoice-detail", invoice_id=invoice.id)
    messages.success(request, f"The draft invoice of {invoice.customer.name} "
                              f"({format_money(invoice.total, invoice.currency)}) was deleted.")
    return redirect("invoicing:invoice-list")

@member_required(roles=WRITE_ROLES)
@require_POST
def line_remove(request, line_id):
    line = get_object_or_404(InvoiceLine.objects.for_organization(request.organization)
                             .select_related("invoice"), id=line_id)
    try:
        invoice = services.invoice_remove_line(line=line, actor=_actor(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Line “{line.description}” removed: the total is now "
                                  f"{format_money(invoice.total, invoice.currency)}.")
    return redirect("invoicing:invoice-detail", invoice_id=line.invoice_id)

@member_required(roles=WRITE_ROLES)
@require_POST
def credit_note_create(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    form = CreditNoteForm(request.POST, currency=invoice.currency,
                          lines=[(line, left) for line, left in _lines_left(invoice) if left > 0])
    if form.is_valid():
        try:
            note = services.credit_note_create(invoice=invoice, reason=form.cleaned_data["reason"],
                                               lines=form.cleaned_data["credited_lines"],
                                               destination=form.cleaned_data["destination"])
        except ValidationError as error:
            form.errors_from(error)
        else:
            messages.success(request, f"Credit note {note.number} of "
                             f"{format_money(note.total, note.currency)} issued.")
            return redirect("invoicing:invoice-detail", invoice_id=invoice.id)
    invoice.refresh_from_db()
    return _detail_page(request, invoice, credit_form=form)

@member_required
def upcoming_invoice(request, customer_id):
    """What the customer's next invoice would be now, computed in a transaction that is
    rolled back: nothing is saved."""
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    error = ""
    with transaction.atomic():
        try:
            upcoming = services.upcoming_invoice(customer=customer)
        except (ScheduleError, PricingError, ValidationError) as failure:
            upcoming, error = None, str(failure)
        transaction.set_rollback(True)
    context = {"customer": customer, "upcoming": upcoming, "error": error,
               "active": "invoices", "list_query": urlencode({"customer": customer.external_id})}
    if upcoming is not None:
        currency = upcoming["currency"]
        context["lines"] = [
            {"line": line, "kind": KIND_LABELS.get(line.kind, line.kind),
             "quantity": quantity_text(line.quantity), "unit_price": price_text(line.unit_price, currency),
             "amount": format_money(line.amount, currency),
             "derivation": derivation_view(line.derivation, currency)}
            for line in upcoming["lines"]]
        context["amounts"] = {name: format_money(upcoming[name], currency)
                              for name in ("subtotal", "tax_total", "total")}
    return render(request, "invoicing/upcoming.html", context)
