"""Receivables on the home page (a panel of ``panels.HOME``): what is owed today and how much
of it is overdue, per currency.

The figures are the aging's (``receivables.selectors.aging``) at today -- an invoice issued by
today, finalized and with something due; overdue once past its due date -- read by one
aggregate query instead of the aging's invoice by invoice: at today no movement comes after
the as-of day, so each invoice's amount due is its amount due now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from invoicing.models import Invoice
from zenskar.dashboard import overview
from zenskar.formatting import format_money
from zenskar.tenancy.models import Organization

ZERO = Decimal(0)


@dataclass(frozen=True)
class Owed:
    currency: str
    open: Decimal
    overdue: Decimal
    invoices: int
    overdue_invoices: int
    customers: int


def owed(*, organization: Organization, today: date) -> list[Owed]:
    """Per currency (the organization's first): open and overdue receivables at ``today``."""
    late = Q(due_date__lt=today)
    rows = (Invoice.objects.for_organization(organization)
            .filter(status=Invoice.Status.FINALIZED, amount_due__gt=0, issue_date__lte=today)
            .order_by().values("currency")
            .annotate(open=Sum("amount_due"), overdue=Sum("amount_due", filter=late),
                      invoices=Count("id"), overdue_invoices=Count("id", filter=late),
                      customers=Count("customer", distinct=True)))
    by_currency = {row["currency"]: row for row in rows}
    return [Owed(currency, row["open"] or ZERO, row["overdue"] or ZERO, row["invoices"],
                 row["overdue_invoices"], row["customers"])
            for currency in overview.currencies(organization, by_currency)
            for row in [by_currency[currency]]]


def home_panel(request: HttpRequest, organization: Organization) -> str:
    """The home page's receivables."""
    rows = owed(organization=organization, today=overview.today(organization))
    return render_to_string("receivables/_home_panel.html", {
        "rows": [{"owed": row, "open": format_money(row.open, row.currency),
                  "overdue": format_money(row.overdue, row.currency),
                  "share": f"{(row.overdue / row.open * 100).quantize(Decimal('1'))}%"
                  if row.open else ""} for row in rows],
        "aging": reverse("receivables:aging"),
        "overdue_list": reverse("invoicing:invoice-list") + "?status=overdue",
    }, request=request)
