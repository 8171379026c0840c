"""Reads for invoices: filtered lists, and the billing failures the runs recorded."""

from __future__ import annotations

import uuid
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from invoicing.models import BillingFailure, Invoice


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


FAILURE_STATUSES = ("open", "resolved")


def billing_failure_filters(params) -> dict:
    """The filters of the billing failures list, checked: ``status`` (open by default,
    or resolved), ``stage``, ``contract``."""
    filters: dict = {"status": params.get("status") or "open"}
    if filters["status"] not in FAILURE_STATUSES:
        raise ValidationError({"status": [f"Must be one of {', '.join(FAILURE_STATUSES)}."]})
    if params.get("stage"):
        if params["stage"] not in BillingFailure.Stage.values:
            raise ValidationError(
                {"stage": [f"Must be one of {', '.join(BillingFailure.Stage.values)}."]})
        filters["stage"] = params["stage"]
    if params.get("contract"):
        try:
            filters["contract"] = uuid.UUID(params["contract"])
        except ValueError:
            raise ValidationError({"contract": ["Must be a contract id."]}) from None
    return filters


def billing_failures_list(
    *, organization, status: str = "open", stage: str | None = None, contract=None,
) -> QuerySet[BillingFailure]:
    """The contracts and invoices the scheduled runs could not handle, the latest failure
    first. ``open``: still failing, tried again by the next run; ``resolved``: since
    handled. ``contract``: its own failures and those of its invoices."""
    failures = BillingFailure.objects.filter(
        organization=organization, resolved_at__isnull=status == "open",
    ).select_related("customer", "contract", "invoice")
    if stage:
        failures = failures.filter(stage=stage)
    if contract:
        failures = failures.filter(contract_id=contract)
    return failures.order_by("-last_failed_at", "-id")


def billing_failures_open(*, organization, contract=None,
                          limit: int = 20) -> tuple[list[BillingFailure], int]:
    """What the dashboard shows: the open failures (of ``contract`` and its invoices, when
    given), the latest first, at most ``limit`` of them; and how many are open in all."""
    failures = billing_failures_list(organization=organization,
                                     contract=contract.id if contract else None)
    return list(failures[:limit]), failures.count()


def contract_invoiced(*, organization, contract) -> bool:
    """Whether any invoice was written for the contract (else it may still be deleted)."""
    return Invoice.objects.filter(organization=organization, contract=contract).exists()
