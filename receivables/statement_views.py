"""The customer statement pages: the statement at an "as of" day (default today in the
organization's time zone) per currency, and its PDF. Reads through
``receivables.statement``; the customer is looked up in ``request.organization`` only, so
another organization's customer is a 404."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from contracts.models import Customer
from receivables.statement import CurrencyStatement, statement, statement_pdf
from receivables.views import LABELS, AsOfForm, _as_of
from zenskar.core.dates import local_date
from zenskar.dashboard.views import member_required

TONES = {"current": "ok", "1_30": "warn"}  # later buckets: "danger"


def _customer(request, customer_id) -> Customer:
    return get_object_or_404(Customer.objects.for_organization(request.organization),
                             id=customer_id)


def _block(part: CurrencyStatement) -> dict[str, Any]:
    return {"part": part, "rows": [
        {"invoice": invoice, "label": LABELS[invoice.bucket],
         "tone": TONES.get(invoice.bucket, "danger")} for invoice in part.invoices]}


@member_required
def statement_page(request, customer_id):
    organization = request.organization
    customer = _customer(request, customer_id)
    form, as_of = _as_of(request, local_date(organization.time_zone))
    report = statement(organization=organization, customer=customer, as_of=as_of)
    query = urlencode({"as_of": as_of.isoformat()})
    return render(request, "receivables/statement.html", {
        "active": "receivables", "form": form, "as_of": as_of, "customer": customer,
        "statement": report, "blocks": [_block(part) for part in report.currencies],
        "pdf_url": f"{reverse('receivables:statement_pdf', args=[customer.id])}?{query}",
        "aging_url": f"{reverse('receivables:aging')}?{query}",
    })


@member_required
def statement_pdf_download(request, customer_id):
    organization = request.organization
    customer = _customer(request, customer_id)
    form = AsOfForm(request.GET)
    if not form.is_valid():
        reason = " ".join(form.errors.get("as_of", []))
        return HttpResponseBadRequest(
            f"“{request.GET.get('as_of', '')}” is not a day a statement can be made for: "
            f"{reason}", content_type="text/plain; charset=utf-8")
    as_of = form.cleaned_data.get("as_of") or local_date(organization.time_zone)
    pdf = statement_pdf(statement(organization=organization, customer=customer, as_of=as_of))
    response = HttpResponse(pdf, content_type="application/pdf")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", customer.external_id).strip("-.") or "customer"
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{name}-{as_of.isoformat()}.pdf"')
    return response
