"""The Revenue page's report tables as CSV files: ``/revenue/export/<report>/`` with the page's
own query string (the currency, the months, the balances' day, the group; the journal's
filters), so each file holds exactly the table the page shows.

Reports: ``revenue-by-month``, ``waterfall`` (deferred revenue), ``billed-recognized-collected``,
``trial-balance``, ``unbilled`` and ``journal`` (the explorer's filtered lines, every page of
them). Money is written by ``zenskar.dashboard.csv_export``: plain decimal strings with the
currency's digits, the currency in a column of its own. A bad parameter is a message on the
Revenue page (the file is not made), never a file of something else.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from revrec import selectors
from revrec.models import Account
from revrec.services import accounts_ensure
from revrec.views import WATERFALL_MONTHS, JournalForm, _report_params
from zenskar.dashboard.csv_export import csv_response, money
from zenskar.dashboard.views import member_required

REPORTS = ("revenue-by-month", "waterfall", "billed-recognized-collected", "trial-balance",
           "unbilled", "journal")

Rows = Iterator[list[Any]]


def _revenue_by_month(organization, params: dict[str, Any]) -> tuple[list[str], Rows]:
    report = selectors.revenue_by_month(organization=organization, start=params["start"],
                                        end=params["end"], currency=params["currency"],
                                        group=params["group"])
    currency = report.currency
    header = [params["group"], "currency", *[f"{m:%Y-%m}" for m in report.months], "total"]

    def rows() -> Rows:
        for series in report.series:
            yield [series.label, currency, *[money(a, currency) for a in series.amounts],
                   money(series.total, currency)]
        yield ["Total", currency, *[money(a, currency) for a in report.totals],
               money(report.total, currency)]

    return header, rows()


def _waterfall(organization, params: dict[str, Any]) -> tuple[list[str], Rows]:
    waterfall = selectors.deferred_waterfall(organization=organization, on=params["on"],
                                             currency=params["currency"],
                                             months=WATERFALL_MONTHS)
    currency = waterfall.currency
    labels = [f"{m:%Y-%m}" for m in waterfall.months] + ["Later", "As used / at expiry"]
    values = [*waterfall.amounts, waterfall.later, waterfall.as_used]
    rows = [[label, currency, money(value, currency)]
            for label, value in zip(labels, values, strict=True)]
    rows.append(["Still deferred", currency, money(waterfall.total, currency)])
    return ["month", "currency", "recognized"], iter(rows)


def _brc(organization, params: dict[str, Any]) -> tuple[list[str], Rows]:
    report = selectors.billed_recognized_collected(
        organization=organization, start=params["start"], end=params["end"],
        currency=params["currency"])
    currency = report.currency
    figures = {s.key: s for s in report.series}
    names = (selectors.BILLED, selectors.RECOGNIZED, selectors.COLLECTED)
    rows = [[f"{month:%Y-%m}", currency, *[money(figures[n].amounts[i], currency)
                                           for n in names]]
            for i, month in enumerate(report.months)]
    rows.append(["Total", currency, *[money(figures[n].total, currency) for n in names]])
    return ["month", "currency", "billed", "recognized", "collected"], iter(rows)


def _trial_balance(organization, params: dict[str, Any]) -> tuple[list[str], Rows]:
    currency = params["currency"]
    found = [row for row in selectors.trial_balance(organization=organization, on=params["on"])
             if row.currency == currency]
    rows = [[row.account.code, row.account.gl_code, row.account.name, row.account.type,
             currency, money(row.debit, currency), money(row.credit, currency),
             money(row.balance, currency)] for row in found]
    rows.append(["Total", "", "", "", currency,
                 money(sum((r.debit for r in found), Decimal(0)), currency),
                 money(sum((r.credit for r in found), Decimal(0)), currency), ""])
    return (["code", "gl_code", "account", "type", "currency", "debit", "credit", "balance"],
            iter(rows))


def _unbilled(organization, params: dict[str, Any]) -> tuple[list[str], Rows]:
    currency = params["currency"]
    found = selectors.unbilled(organization=organization, on=params["on"], currency=currency)
    rows = [[row.number, row.status, row.customer, row.billing_date, currency,
             money(row.amount, currency), row.invoice_id] for row in found.invoices]
    return (["invoice_number", "invoice_status", "customer", "billing_date", "currency",
             "unbilled", "invoice_id"], iter(rows))


def _journal(request, organization) -> tuple[list[str], Rows] | None:
    """The journal explorer's lines for its filters; None when a filter is bad (said)."""
    accounts_ensure(organization=organization)
    accounts = list(Account.objects.for_organization(organization).order_by("code"))
    form = JournalForm(request.GET, accounts=accounts,
                       kinds=selectors.source_types(organization=organization))
    if not form.is_valid():
        messages.error(request, "No export: the journal's filters are not valid. " + " ".join(
            f"{form.fields[name].label or name}: {' '.join(errors)}"
            if name in form.fields else " ".join(errors)
            for name, errors in form.errors.items()))
        return None
    data = form.cleaned_data
    filters: dict[str, Any] = {"start": data.get("jfrom"), "end": data.get("jto"),
                               "source_type": data.get("source_type") or "",
                               **{name: data.get(name) for name in selectors.REFERENCES}}
    if data.get("account"):
        filters["account"] = next(a for a in accounts if str(a.id) == data["account"])
    lines = selectors.journal_lines(organization=organization, **filters)

    def rows() -> Rows:
        for line in lines.iterator(chunk_size=2000):
            currency = line.entry.currency
            yield [line.entry.effective_date, line.entry.source_type, line.entry.memo,
                   line.account.code, line.account.gl_code or line.account.code,
                   line.account.name, line.description, currency,
                   money(line.debit, currency) if line.debit else None,
                   money(line.credit, currency) if line.credit else None, line.entry_id]

    return (["effective_date", "source_type", "memo", "account_code", "gl_code", "account",
             "description", "currency", "debit", "credit", "entry_id"], rows())


BUILDERS = {"revenue-by-month": _revenue_by_month, "waterfall": _waterfall,
            "billed-recognized-collected": _brc, "trial-balance": _trial_balance,
            "unbilled": _unbilled}


def _refused(request, form) -> str:
    back = reverse("revrec:revenue")
    query = request.GET.urlencode()
    messages.error(request, "No export: the report's parameters are not valid. " + " ".join(
        f"{form.fields[name].label if name in form.fields else 'Report'}: {' '.join(errors)}"
        for name, errors in form.errors.items()))
    return f"{back}?{query}" if query else back


@member_required
def report_csv(request, report: str):
    if report not in REPORTS:
        raise Http404("No such report.")
    organization = request.organization
    if report == "journal":
        built = _journal(request, organization)
        if built is None:
            query = request.GET.urlencode()
            return redirect(f"{reverse('revrec:revenue')}?{query}#journal")
        header, rows = built
    else:
        currencies = selectors.ledger_currencies(organization=organization)
        params = _report_params(request, organization, currencies)
        if params["form"].errors:
            return redirect(_refused(request, params["form"]))
        header, rows = BUILDERS[report](organization, params)
    return csv_response(filename=f"{report}.csv", header=header, rows=rows,
                        organization=organization)
