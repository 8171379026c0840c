"""What receivables adds to the pages of earlier apps (``zenskar.dashboard.panels``), and the
forms of those sections:

- the invoice page's "Collection" (``INVOICE_DETAIL``): the invoice's reminders, its hold (a
  dispute, a promise to pay) with a form to change it, and "Request payment";
- the customer page's "Collection" (``CUSTOMER_DETAIL``): the customer's reminders, a pause of
  them, and the customer's statement.

A panel only reads; its forms post to the views below, which write through
``receivables.services`` and go back to the page they came from, a refusal said at its top.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.models import Customer
from invoicing.models import Invoice
from receivables import collection, segments, services
from receivables.collection_forms import CustomerHoldForm, InvoiceHoldForm
from receivables.collection_views import reminder_row
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES

TIMELINE = 20  # reminders shown on a page; the log has them all


def _requested_by(request) -> str:
    return request.user.email or request.user.get_username()


def _refused(request, error: ValidationError, names: dict[str, str]) -> None:
    said = [f"{names.get(key, key)}: {' '.join(found)}" if key in names else " ".join(found)
            for key, found in getattr(error, "message_dict", {"": error.messages}).items()]
    messages.error(request, "Nothing was changed. " + " ".join(said))


# --- the invoice page ------------------------------------------------------------------------


def invoice_panel(request, invoice: Invoice) -> str:
    """The invoice's reminders (newest first), its hold and, while it is finalized with money
    due, the forms to change the hold and to ask for payment now. Nothing for a draft."""
    if invoice.status == Invoice.Status.DRAFT:
        return ""
    hold = collection.invoice_hold(invoice=invoice)
    log = collection.reminder_log(organization=request.organization, invoice=invoice)
    return render_to_string("receivables/_invoice_panel.html", {
        "invoice": invoice, "hold": hold,
        "rows": [reminder_row(r) for r in log[:TIMELINE]], "more": log.count() > TIMELINE,
        "open": segments.is_open(invoice),
        "form": InvoiceHoldForm(initial={
            "disputed": hold.disputed, "dispute_reason": hold.dispute_reason,
            "promised_on": hold.promised_on, "note": hold.note} if hold else None,
            auto_id="hold-%s"),
    }, request=request)


def _invoice(request, invoice_id) -> Invoice:
    return get_object_or_404(Invoice.objects.for_organization(request.organization)
                             .select_related("customer"), id=invoice_id)


def _invoice_page(invoice: Invoice) -> str:
    return reverse("invoicing:invoice-detail", args=[invoice.id]) + "#collection"


@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_hold(request, invoice_id):
    invoice = _invoice(request, invoice_id)
    form = InvoiceHoldForm(request.POST)
    if not form.is_valid():
        problems = [f"{form[key].label}: {' '.join(found)}" for key, found in
                    form.errors.items() if key in form.fields]
        messages.error(request, "Nothing was changed. " + " ".join(problems))
        return redirect(_invoice_page(invoice))
    data = form.cleaned_data
    try:
        hold = services.invoice_hold_set(
            invoice=invoice, disputed=data["disputed"], dispute_reason=data["dispute_reason"],
            promised_on=data["promised_on"], note=data["note"])
    except ValidationError as error:
        _refused(request, error, {name: str(form[name].label) for name in form.fields})
    else:
        if hold.disputed:
            said = "disputed: its reminders wait until the dispute is cleared"
        elif hold.promised_on:
            said = f"promised to be paid by {hold.promised_on.isoformat()}: reminders " \
                   "wait until the day after"
        else:
            said = "not on hold: reminders follow its segment's policy"
        messages.success(request, f"Invoice {invoice.number} {said}.")
    return redirect(_invoice_page(invoice))


@member_required(roles=WRITE_ROLES)
@require_POST
def payment_request(request, invoice_id):
    """"Request payment": the reminder e-mail to the customer now (sent after commit)."""
    invoice = _invoice(request, invoice_id)
    try:
        services.payment_request(invoice=invoice, requested_by=_requested_by(request))
    except ValidationError as error:
        messages.error(request, "Payment not requested: " + " ".join(error.messages))
    else:
        messages.success(request, f"Payment of {invoice.number} requested from "
                                  f"{', '.join(invoice.customer.emails)}: the e-mail is on its "
                                  "way.")
    return redirect(_invoice_page(invoice))


# --- the customer page -----------------------------------------------------------------------


def customer_panel(request, customer: Customer) -> str:
    """The customer's reminders (newest first), whether they are paused with a toggle, and a
    link to the customer's statement."""
    hold = collection.customer_hold(customer=customer)
    log = collection.reminder_log(organization=request.organization, customer=customer)
    return render_to_string("receivables/_customer_panel.html", {
        "customer": customer, "paused": bool(hold and hold.paused), "hold": hold,
        "rows": [reminder_row(r) for r in log[:TIMELINE]], "more": log.count() > TIMELINE,
        # receivables' own page, by its path: the panel never depends on its URL name
        "statement_url": f"/receivables/customers/{customer.id}/statement",
    }, request=request)


@member_required(roles=WRITE_ROLES)
@require_POST
def customer_hold(request, customer_id):
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    back = reverse("contracts:customer-detail", args=[customer.id]) + "#collection"
    form = CustomerHoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was changed: pause or resume?")
        return redirect(back)
    try:
        services.customer_hold_set(customer=customer, paused=form.cleaned_data["paused"],
                                   reason=form.cleaned_data["reason"])
    except ValidationError as error:
        _refused(request, error, {"reason": "Reason"})
    else:
        messages.success(request, f"Reminders to {customer.name} paused." if
                         form.cleaned_data["paused"] else
                         f"Reminders to {customer.name} resumed.")
    return redirect(back)
