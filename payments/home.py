"""Payments on the home page (a panel of ``panels.HOME``): what was collected by month.

*Collected* is the amount of every payment that succeeded -- since refunded or not: money
received, before refunds -- by the month it was received (its ``received_on``, else the day
it was recorded, in UTC), per currency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from payments.models import Payment
from zenskar.dashboard import overview
from zenskar.formatting import format_money
from zenskar.tenancy.models import Organization

RECEIVED = (Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED,
            Payment.Status.REFUNDED)
ZERO = Decimal(0)


def collected_by_month(*, organization: Organization,
                       months: list[date]) -> dict[str, list[Decimal]]:
    """``{currency: [collected in each of months]}`` (first days, oldest first), from one
    query; the organization's currency first."""
    received = Coalesce("received_on", TruncDate("created_at"))
    rows = (Payment.objects.for_organization(organization)
            .filter(status__in=RECEIVED).annotate(received=received)
            .filter(received__gte=months[0], received__lte=overview.month_end(months[-1]))
            .annotate(month=TruncMonth("received")).order_by()
            .values("currency", "month").annotate(collected=Sum("amount")))
    index = {month: i for i, month in enumerate(months)}
    collected: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * len(months))
    for row in rows:
        collected[row["currency"]][index[row["month"]]] += row["collected"] or ZERO
    return {currency: collected[currency]
            for currency in overview.currencies(organization, collected)}


def home_panel(request: HttpRequest, organization: Organization) -> str:
    """The home page's collections."""
    months = overview.month_starts(overview.today(organization))
    payments = reverse("payments_dashboard:payment-list") + f"?status={Payment.Status.SUCCEEDED}"
    charts = [{
        "currency": currency, "id": f"collected-chart-{currency}",
        "data_id": f"collected-chart-{currency}-data",
        "total": format_money(sum(amounts, ZERO), currency),
        "this_month": format_money(amounts[-1], currency),
        "chart": overview.chart(
            kind="bar", labels=[overview.month_label(m) for m in months], currency=currency,
            links=[payments] * len(months),
            datasets=[overview.dataset(f"Collected ({currency})",
                                       [overview.figure(a, currency) for a in amounts],
                                       "amber")]),
    } for currency, amounts in collected_by_month(organization=organization,
                                                   months=months).items()]
    return render_to_string("payments/_home_panel.html", {
        "charts": charts, "payments": payments,
    }, request=request)
