"""The one-off invoice page: a customer, a currency, terms, a memo and lines written by hand,
saved as a draft through ``invoice_create_one_off`` (the service the API's ``POST /invoices``
calls), then the invoice's own page, where it is finalized and sent as any draft.

The lines are a formset that works without JavaScript ("Add a line" posts the form back with
one more row; each row has a Remove box); ``static/js/one-off-invoice.js`` adds and removes
rows in place. A row left empty is no line."""

from __future__ import annotations

import re
import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from contracts.models import Customer
from invoicing import services
from invoicing.forms import OneOffInvoiceForm, OneOffLineFormSet
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.tenancy.models import WRITE_ROLES

PREFIX = "lines"
LINE_ERROR = re.compile(r"lines\[(\d+)\]\.(\w+)")


def _actor(request) -> str:
    return request.user.email or request.user.get_username()


def _customers(request) -> list[Customer]:
    return list(Customer.objects.for_organization(request.organization)
                .only("id", "name", "external_id", "currency", "payment_terms_days")
                .order_by("name"))


def _preselected(request, customers: list[Customer]) -> Customer | None:
    try:
        wanted = uuid.UUID(request.GET.get("customer", ""))
    except ValueError:
        return None
    return next((c for c in customers if c.id == wanted), None)


def _page(request, form, lines, customers, status=200):
    return render(request, "invoicing/invoice_new.html", {
        "form": form, "lines": lines, "active": "invoices",
        "customer_terms": {str(c.id): {"currency": c.currency, "terms": c.payment_terms_days}
                           for c in customers},
    }, status=status)


def _with_one_more_row(data):
    data = data.copy()
    total = f"{PREFIX}-TOTAL_FORMS"
    try:
        data[total] = str(min(int(data.get(total, "0")) + 1, 100))
    except ValueError:
        pass
    return data


def _written(lines) -> list[tuple[int, dict]]:
    """(row index, line) of each row that says something (a description or a price: a
    quantity alone is the row's own 1, or a row taken out of the page) and is not removed."""
    written = []
    for index, line_form in enumerate(lines.forms):
        data = line_form.cleaned_data if line_form.is_valid() else {}
        if data.get("DELETE") or not (data.get("description", "").strip()
                                      or data.get("unit_price", "").strip()):
            continue
        written.append((index, {"description": data.get("description", ""),
                                "quantity": data.get("quantity", ""),
                                "unit_price": data.get("unit_price", "")}))
    return written


def _errors_onto(form, lines, rows: list[int], error: ValidationError) -> None:
    """The service's ``lines[i].<field>`` errors on the i-th written row's field, the others
    on the head of the form."""
    rest: dict[str, list] = {}
    for key, reasons in error.message_dict.items():
        match = LINE_ERROR.fullmatch(key)
        if match and int(match[1]) < len(rows):
            lines.forms[rows[int(match[1])]].add_error(match[2], reasons)
        else:
            rest[key] = reasons
    if rest:
        errors_onto(form, ValidationError(rest))


@member_required(roles=WRITE_ROLES)
def invoice_new(request):
    customers = _customers(request)
    if request.method != "POST":
        chosen = _preselected(request, customers)
        initial = {"customer": str(chosen.id), "currency": chosen.currency} if chosen else {}
        return _page(request, OneOffInvoiceForm(customers=customers, initial=initial),
                     OneOffLineFormSet(prefix=PREFIX), customers)
    if "add_line" in request.POST:  # without JavaScript: the same form, one more row
        data = _with_one_more_row(request.POST)
        return _page(request, OneOffInvoiceForm(data, customers=customers),
                     OneOffLineFormSet(data, prefix=PREFIX), customers)
    form = OneOffInvoiceForm(request.POST, customers=customers)
    lines = OneOffLineFormSet(request.POST, prefix=PREFIX)
    if not (form.is_valid() & lines.is_valid()):
        return _page(request, form, lines, customers, status=400)
    customer = next(c for c in customers if str(c.id) == form.cleaned_data["customer"])
    written = _written(lines)
    try:
        invoice = services.invoice_create_one_off(
            organization=request.organization, customer=customer,
            lines=[line for _, line in written], memo=form.cleaned_data["memo"],
            currency=form.cleaned_data["currency"] or None,
            payment_terms_days=form.cleaned_data["payment_terms_days"], actor=_actor(request))
    except ValidationError as error:
        _errors_onto(form, lines, [index for index, _ in written], error)
        return _page(request, form, lines, customers, status=400)
    messages.success(request, f"Draft invoice of {format_money(invoice.total, invoice.currency)} "
                              f"for {customer.name} saved: check it, then finalize it.")
    return redirect("invoicing:invoice-detail", invoice_id=invoice.id)
