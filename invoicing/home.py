"""Invoicing on the home page (a panel of ``panels.HOME``): what was billed by month, the
drafts awaiting review, the contracts and invoices the scheduled runs could not handle, and the
customers billed the most.

*Billed* is the total (tax included) of every invoice issued -- finalized, since paid or
written off; not a draft, not a voided one -- by the month of its issue date, per currency.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from invoicing import selectors
from invoicing.models import Invoice
from zenskar.dashboard import overview
from zenskar.formatting import format_money
from zenskar.tenancy.models import Organization

ISSUED = (Invoice.Status.FINALIZED, Invoice.Status.PAID, Invoice.Status.UNCOLLECTIBLE)
TOP_CUSTOMERS = 5
FAILURES_SHOWN = 3
ZERO = Decimal(0)


def _issued(organization: Organization, start: date, end: date):
    return Invoice.objects.for_organization(organization).filter(
        status__in=ISSUED, issue_date__gte=start, issue_date__lte=end).order_by()


def billed_by_month(*, organization: Organization, months: list[date]) -> dict[str, list[Decimal]]:
    """``{currency: [billed in each of months]}`` (first days, oldest first), from one query;
    the organization's currency first."""
    rows = (_issued(organization, months[0], overview.month_end(months[-1]))
            .annotate(month=TruncMonth("issue_date"))
            .values("currency", "month").annotate(billed=Sum("total")))
    index = {month: i for i, month in enumerate(months)}
    billed: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * len(months))
    for row in rows:
        billed[row["currency"]][index[row["month"]]] += row["billed"] or ZERO
    return {currency: billed[currency] for currency in overview.currencies(organization, billed)}


@dataclass(frozen=True)
class TopCustomer:
    id: uuid.UUID
    external_id: str
    name: str
    currency: str
    billed: Decimal


def top_customers(*, organization: Organization, start: date, end: date,
                  limit: int = TOP_CUSTOMERS) -> dict[str, list[TopCustomer]]:
    """``{currency: the limit customers billed the most in [start, end]}``, largest first;
    the organization's currency first. One query."""
    rows = (_issued(organization, start, end)
            .values("customer_id", "customer__external_id", "customer__name", "currency")
            .annotate(billed=Sum("total")).order_by("currency", "-billed", "customer__name"))
    top: dict[str, list[TopCustomer]] = defaultdict(list)
    for row in rows:
        if len(top[row["currency"]]) < limit and row["billed"]:
            top[row["currency"]].append(TopCustomer(
                row["customer_id"], row["customer__external_id"], row["customer__name"],
                row["currency"], row["billed"]))
    return {currency: top[currency] for currency in overview.currencies(organization, top)}


def drafts_awaiting_review(*, organization: Organization) -> int:
    return Invoice.objects.for_organization(organization).filter(
        status=Invoice.Status.DRAFT).count()


# --- The panel --------------------------------------------------------------------------------


def _invoices(**query: str) -> str:
    return f"{reverse('invoicing:invoice-list')}?{urlencode(query)}"


def home_panel(request: HttpRequest, organization: Organization) -> str:
    """The home page's billing: billed by month, what needs a person, the top customers."""
    today = overview.today(organization)
    months = overview.month_starts(today)
    start, end = months[0], overview.month_end(months[-1])
    labels = [overview.month_label(month) for month in months]

    def issued(currency: str, first: date, last: date, **query: str) -> str:
        """The invoice list behind a figure: the invoices issued in ``[first, last]``."""
        return _invoices(**query, currency=currency, issued_from=first.isoformat(),
                         issued_to=last.isoformat())

    billed = billed_by_month(organization=organization, months=months)
    charts = [{
        "currency": currency, "id": f"billed-chart-{currency}",
        "data_id": f"billed-chart-{currency}-data",
        "total": format_money(sum(amounts, ZERO), currency),
        "total_url": issued(currency, start, end),
        "this_month": format_money(amounts[-1], currency),
        "month_url": issued(currency, months[-1], end),
        "chart": overview.chart(
            kind="bar", labels=labels, currency=currency,
            links=[issued(currency, m, overview.month_end(m)) for m in months],
            datasets=[overview.dataset(f"Billed ({currency})",
                                       [overview.figure(a, currency) for a in amounts],
                                       "indigo")]),
    } for currency, amounts in billed.items()]
    failures, failing = selectors.billing_failures_open(organization=organization,
                                                        limit=FAILURES_SHOWN)
    top = top_customers(organization=organization, start=start, end=end)
    return render_to_string("invoicing/_home_panel.html", {
        "charts": charts, "start": start, "end": end,
        "drafts": drafts_awaiting_review(organization=organization),
        "drafts_url": _invoices(status=Invoice.Status.DRAFT),
        "failures": failures, "failing": failing,
        "top": [{"currency": currency, "rows": [
            {"customer": row, "billed": format_money(row.billed, currency),
             "invoices": issued(currency, start, end, customer=row.external_id)}
            for row in rows]} for currency, rows in top.items()],
    }, request=request)
