"""Revenue recognition on the home page (a panel of ``panels.HOME``): revenue recognized by
month -- credits minus debits of the ledger's revenue account, by the month of the entries'
effective dates, per currency (the Revenue page's figure, ``revrec.selectors``) -- from one
query."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from revrec.models import Account, JournalLine
from zenskar.dashboard import overview
from zenskar.formatting import format_money
from zenskar.tenancy.models import Organization

ZERO = Decimal(0)


def recognized_by_month(*, organization: Organization,
                        months: list[date]) -> dict[str, list[Decimal]]:
    """``{currency: [revenue recognized in each of months]}`` (first days, oldest first); the
    organization's currency first. The same figure as ``selectors.revenue_by_month``'s
    totals, for every currency at once."""
    rows = (JournalLine.objects.for_organization(organization)
            .filter(account__system_key=Account.SystemKey.REVENUE,
                    entry__effective_date__gte=months[0],
                    entry__effective_date__lte=overview.month_end(months[-1]))
            .order_by().annotate(month=TruncMonth("entry__effective_date"))
            .values("entry__currency", "month").annotate(debit=Sum("debit"), credit=Sum("credit")))
    index = {month: i for i, month in enumerate(months)}
    recognized: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * len(months))
    for row in rows:
        recognized[row["entry__currency"]][index[row["month"]]] += (
            (row["credit"] or ZERO) - (row["debit"] or ZERO))
    return {currency: recognized[currency]
            for currency in overview.currencies(organization, recognized)}


def _revenue(currency: str, start: date, end: date) -> str:
    query = urlencode({"currency": currency, "from": start.isoformat(), "to": end.isoformat()})
    return f"{reverse('revrec:revenue')}?{query}"


def home_panel(request: HttpRequest, organization: Organization) -> str:
    """The home page's recognized revenue."""
    months = overview.month_starts(overview.today(organization))
    start, end = months[0], overview.month_end(months[-1])
    charts = [{
        "currency": currency, "id": f"recognized-chart-{currency}",
        "data_id": f"recognized-chart-{currency}-data",
        "total": format_money(sum(amounts, ZERO), currency),
        "this_month": format_money(amounts[-1], currency),
        "total_url": _revenue(currency, start, end),
        "month_url": _revenue(currency, months[-1], end),
        "chart": overview.chart(
            kind="bar", labels=[overview.month_label(m) for m in months], currency=currency,
            links=[_revenue(currency, m, overview.month_end(m)) for m in months],
            datasets=[overview.dataset(f"Recognized ({currency})",
                                       [overview.figure(a, currency) for a in amounts],
                                       "green")]),
    } for currency, amounts in recognized_by_month(organization=organization,
                                                    months=months).items()]
    return render_to_string("revrec/_home_panel.html", {"charts": charts}, request=request)
