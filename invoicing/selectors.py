"""Reads for invoices: filtered lists."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from invoicing.models import Invoice


def list_filters(params) -> dict:
    """The list filters of a query string, checked."""
    filters: dict = {}
    if params.get("status"):
        if params["status"] not in Invoice.Status.values:
            raise ValidationError({"status": [f"Must be one of {', '.join(Invoice.Status.values)}."]})
        filters["status"] = params["status"]
    if params.get("customer"):
        filters["customer"] = params["customer"]
    if params.get("contract"):
        filters["contract"] = params["contract"]
    for name in ("from", "to"):
        if params.get(name):
            try:
                filters[f"date_{name}"] = date.fromisoformat(params[name])
            except ValueError:
                raise ValidationError({name: ["Must be a date, YYYY-MM-DD."]}) from None
    if params.get("overdue") in ("true", "1"):
        filters["overdue"] = True
    return filters


def invoices_list(
    *, organization, status: str | None = None, customer: str | None = None,
    contract: str | None = None,
    date_from: date | None = None, date_to: date | None = None, overdue: bool = False,
) -> QuerySet[Invoice]:
    """Invoices newest first. ``customer`` is an external id; dates bound the billing date;
    ``overdue``: finalized, unpaid and past their due date."""
    invoices = Invoice.objects.filter(organization=organization).select_related("customer")
    if status:
        invoices = invoices.filter(status=status)
    if customer:
        invoices = invoices.filter(customer__external_id=customer)
    if contract:
        invoices = invoices.filter(contract_id=contract)
    if date_from:
        invoices = invoices.filter(billing_date__gte=date_from)
    if date_to:
        invoices = invoices.filter(billing_date__lt=date_to)
    if overdue:
        invoices = invoices.filter(status=Invoice.Status.FINALIZED, amount_due__gt=0,
                                   due_date__lt=timezone.now().date())
    return invoices
