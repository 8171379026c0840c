"""The Revenue page: the charts (revenue by month by product or customer, the deferred revenue
waterfall, billed vs recognized vs collected), the trial balance, unbilled revenue, the
journal explorer whose figures and lines drill down to the invoice, payment, credit note or
customer behind them, the chart of accounts with its GL codes, the period close, and the
export links. Reads through ``revrec.selectors``; every change through ``revrec.services``
and ``revrec.closing``, whose refusals are shown on the form they are about."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from revrec import closing, selectors
from revrec.models import Account, PeriodClose
from revrec.services import account_create, account_update, accounts_ensure, lock_date, today
from zenskar import bounds
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.money import round_money
from zenskar.tenancy.models import WRITE_ROLES

PAGE_SIZE = 50
CHART_SERIES = 8  # the revenue chart stacks the largest series; the rest is one "Other"
WATERFALL_MONTHS = 12
Key = Account.SystemKey


def _in_bounds(value: date) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise ValidationError(str(error), code="out_of_bounds") from None


def _day(label: str, **kwargs: Any) -> forms.DateField:
    return forms.DateField(required=False, label=label, validators=[_in_bounds],
                           widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


# --- Forms ------------------------------------------------------------------------------------


class ReportForm(forms.Form):
    """The page's GET parameters: the currency, the months of the reports (``from``, ``to``:
    ``from`` is a keyword, so it is added in ``__init__``), the day of the balances and the
    waterfall (``on``), the revenue chart's series (``group``)."""

    to = _day("Through")
    on = _day("Balances on")
    currency = forms.ChoiceField(required=False)
    group = forms.ChoiceField(required=False, label="Revenue by",
                              choices=[("product", "Product"), ("customer", "Customer")])

    def __init__(self, data: Any, *, currencies: list[str]) -> None:
        super().__init__(data)
        self.fields = {"from": _day("From"), **self.fields}
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and end < start:
            self.add_error("to", "The range ends before it starts.")
        elif start and end and selectors.month_count(start, end) > selectors.MAX_MONTHS:
            self.add_error("to", f"At most {selectors.MAX_MONTHS} months.")
        return cleaned


class JournalForm(forms.Form):
    """The journal explorer's filters (GET): dates, an account, a kind of source event, and
    what the lines are about."""

    jfrom = _day("From")
    jto = _day("Through")
    account = forms.ChoiceField(required=False)
    source_type = forms.ChoiceField(required=False, label="Source event")
    invoice = forms.UUIDField(required=False, label="Invoice id")
    customer = forms.UUIDField(required=False, label="Customer id")
    payment = forms.UUIDField(required=False, label="Payment id")
    credit_note = forms.UUIDField(required=False, label="Credit note id")
    product = forms.UUIDField(required=False, label="Product id")

    def __init__(self, data: Any, *, accounts: list[Account], kinds: list[str]) -> None:
        super().__init__(data)
        self.fields["account"].choices = [("", "Every account")] + [
            (str(a.id), f"{a.code} {a.name}") for a in accounts]
        self.fields["source_type"].choices = [("", "Every event")] + [(k, k) for k in kinds]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("jfrom"), cleaned.get("jto")
        if start and end and end < start:
            self.add_error("jto", "The range ends before it starts.")
        return cleaned


class AccountForm(forms.Form):
    """An account's code, name and GL code; the rules are ``account_update``'s."""

    code = forms.CharField(required=False, strip=False)
    name = forms.CharField(required=False, strip=False)
    gl_code = forms.CharField(required=False, strip=False, label="GL code")


class NewAccountForm(AccountForm):
    """An account of the tenant's own; the rules are ``account_create``'s."""

    type = forms.ChoiceField(choices=Account.Type.choices)
    gl_code = forms.CharField(required=False, strip=False, label="GL code",
                              help_text="The account's code in your general ledger: the "
                                        "export writes it (the code above when empty).")


class CloseForm(forms.Form):
    closed_through = forms.DateField(label="Close through", validators=[_in_bounds],
                                     widget=forms.DateInput(attrs={"type": "date"}))
    force = forms.BooleanField(required=False,
                               label="Close even if a blocking check fails")
    note = forms.CharField(required=False, max_length=500)


# --- Figures ----------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)


def _number(amount: Decimal, currency: str) -> str:
    """A chart's figure: a decimal string with the currency's digits ("101.92")."""
    return str(round_money(amount, currency))


def _query(base: dict[str, str], **changes: Any) -> str:
    values = {**base, **{k: v for k, v in changes.items() if v not in (None, "")}}
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _revenue_figures(report: selectors.MonthlyReport, *, group: str, revenue: Account | None,
                     keep: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chart's data (the largest series, the rest as "Other") and the table's rows, each
    figure with the journal query that shows its lines."""
    currency = report.currency
    shown = list(report.series[:CHART_SERIES])
    rest = report.series[CHART_SERIES:]
    if rest:
        shown.append(selectors.Series("", f"Other ({len(rest)})", tuple(
            sum((s.amounts[i] for s in rest), Decimal(0)) for i in range(len(report.months)))))
    chart = {"currency": currency, "labels": [m.strftime("%Y-%m") for m in report.months],
             "datasets": [{"label": s.label, "data": [_number(a, currency) for a in s.amounts]}
                          for s in shown]}
    rows = []
    for series in report.series:
        cells = []
        for month, amount in zip(report.months, series.amounts, strict=True):
            last = min(selectors.next_month(month) - timedelta(days=1), report.end)
            first = max(month, report.start)
            query = _query(keep, jfrom=first.isoformat(), jto=last.isoformat(),
                           account=str(revenue.id) if revenue else "",
                           **{group: series.key})
            cells.append({"amount": _money(amount, currency) if amount else "",
                          "query": query})
        rows.append({"series": series, "cells": cells,
                     "total": _money(series.total, currency)})
    return chart, rows


def _waterfall_figures(waterfall: selectors.Waterfall) -> tuple[dict[str, Any], list]:
    currency = waterfall.currency
    labels = [m.strftime("%Y-%m") for m in waterfall.months] + ["Later",
                                                                "As used / at expiry"]
    values = [*waterfall.amounts, waterfall.later, waterfall.as_used]
    chart = {"currency": currency, "labels": labels,
             "data": [_number(v, currency) for v in values]}
    return chart, [(label, _money(value, currency)) for label, value in zip(labels, values,
                                                                            strict=True)]


def _brc_figures(report: selectors.MonthlyReport) -> tuple[dict[str, Any], list]:
    currency = report.currency
    figures = {s.key: s for s in report.series}
    names = (selectors.BILLED, selectors.RECOGNIZED, selectors.COLLECTED)
    chart = {"currency": currency, "labels": [m.strftime("%Y-%m") for m in report.months],
             **{name: [_number(a, currency) for a in figures[name].amounts] for name in names}}
    rows = [(month, [_money(figures[name].amounts[i], currency) for name in names])
            for i, month in enumerate(report.months)]
    rows.append(("total", [_money(figures[name].total, currency) for name in names]))
    return chart, rows


def _report_params(request, organization, currencies: list[str]) -> dict[str, Any]:
    form = ReportForm(request.GET, currencies=currencies)
    form.is_valid()  # a bad parameter is shown on its field and not applied
    data = form.cleaned_data
    now = today(organization)
    end = data.get("to") or selectors.last_months(now)[1]
    start = data.get("from") or max(bounds.MIN_DATE, selectors.last_months(end)[0])
    if end < start or selectors.month_count(start, end) > selectors.MAX_MONTHS:
        # only one end given, the other's default makes no range: said, and not applied
        form.add_error("from", f"Must be on or before {end.isoformat()}, at most "
                               f"{selectors.MAX_MONTHS} months earlier.")
        start, end = selectors.last_months(now)
    currency = selectors.report_currency(organization=organization,
                                         currency=data.get("currency") or None)
    return {"form": form, "start": start, "end": end, "on": data.get("on") or now,
            "currency": currency, "group": data.get("group") or "product", "today": now}


def _journal(request, organization, accounts: list[Account]) -> dict[str, Any]:
    form = JournalForm(request.GET, accounts=accounts,
                       kinds=selectors.source_types(organization=organization))
    form.is_valid()  # a bad filter is shown on its field and not applied
    data = form.cleaned_data
    filters: dict[str, Any] = {"start": data.get("jfrom"), "end": data.get("jto"),
                               "source_type": data.get("source_type") or "",
                               **{name: data.get(name) for name in selectors.REFERENCES}}
    if data.get("account"):
        filters["account"] = next(a for a in accounts if str(a.id) == data["account"])
    lines = selectors.journal_lines(organization=organization, **filters)
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    links = selectors.drill_downs(organization=organization, lines=page.object_list)
    rows = [{"line": line, "links": links[line.id],
             "debit": _money(line.debit, line.entry.currency) if line.debit else "",
             "credit": _money(line.credit, line.entry.currency) if line.credit else ""}
            for line in page.object_list]
    filtered = any(request.GET.get(name) for name in form.fields)
    return {"journal_form": form, "journal_page": page, "journal_rows": rows,
            "journal_filtered": filtered}


def _close_panel(organization, now: date, close_form: CloseForm | None,
                 asked: date | None) -> dict:
    locked = lock_date(organization)
    previous_month_end = selectors.month_start(now) - timedelta(days=1)
    proposed = previous_month_end if locked is None or previous_month_end > locked \
        else now - timedelta(days=1)
    proposed = asked or proposed  # the day a refused close asked for: its checks
    checks = closing.close_checks(organization=organization, through=proposed)
    return {
        "lock_date": locked, "proposed": proposed, "checks": checks,
        "close_form": close_form or CloseForm(initial={"closed_through": proposed}),
        "closes": list(PeriodClose.objects.for_organization(organization)
                       .order_by("-created_at")[:10]),
    }


def _page(request, *, account_form: tuple[Account, AccountForm] | None = None,
          new_account_form: NewAccountForm | None = None,
          close_form: CloseForm | None = None, close_asked: date | None = None):
    organization = request.organization
    currencies = selectors.ledger_currencies(organization=organization)
    params = _report_params(request, organization, currencies)
    currency, start, end, on = (params["currency"], params["start"], params["end"],
                                params["on"])
    keep = {"currency": currency if len(currencies) > 1 else "",
            "from": request.GET.get("from", ""), "to": request.GET.get("to", ""),
            "on": request.GET.get("on", ""), "group": request.GET.get("group", "")}
    accounts_ensure(organization=organization)
    accounts = list(Account.objects.for_organization(organization).order_by("code"))
    revenue = next((a for a in accounts if a.system_key == Key.REVENUE), None)
    context: dict[str, Any] = {"active": "revenue", "currencies": currencies, **params,
                               "keep": keep, "keep_query": _query(keep),
                               "has_ledger": bool(currencies)}

    report = selectors.revenue_by_month(organization=organization, start=start, end=end,
                                        currency=currency, group=params["group"])
    revenue_chart, revenue_rows = _revenue_figures(report, group=params["group"],
                                                   revenue=revenue, keep=keep)
    waterfall = selectors.deferred_waterfall(organization=organization, on=on,
                                             currency=currency, months=WATERFALL_MONTHS)
    waterfall_chart, waterfall_rows = _waterfall_figures(waterfall)
    brc = selectors.billed_recognized_collected(organization=organization, start=start,
                                                end=end, currency=currency)
    brc_chart, brc_rows = _brc_figures(brc)
    balances = {row.key: row.balance for row in
                selectors.ledger_summary(organization=organization, on=on)
                if row.currency == currency}
    context.update({
        "revenue_report": report, "revenue_chart": revenue_chart, "revenue_rows": revenue_rows,
        "revenue_columns": ", ".join([params["group"].capitalize(),
                                      *[f"{m:%Y-%m}:num" for m in report.months], "Total:num"]),
        "revenue_total": _money(report.total, currency),
        "revenue_totals": [_money(a, currency) for a in report.totals],
        "waterfall": waterfall, "waterfall_chart": waterfall_chart,
        "waterfall_rows": waterfall_rows, "waterfall_total": _money(waterfall.total, currency),
        "waterfall_ledger": _money(waterfall.ledger_balance, currency),
        "has_waterfall": waterfall.total != 0,
        "brc_chart": brc_chart, "brc_rows": brc_rows,
        "has_brc": any(any(s.amounts) for s in brc.series),
        "stats": {
            "recognized": _money(report.total, currency),
            "deferred": _money(-balances.get(Key.DEFERRED_REVENUE, Decimal(0)), currency),
            "unbilled": _money(balances.get(Key.UNBILLED_REVENUE, Decimal(0)), currency),
            "receivable": _money(balances.get(Key.ACCOUNTS_RECEIVABLE, Decimal(0)), currency),
        },
    })

    rows = [row for row in selectors.trial_balance(organization=organization, on=on)
            if row.currency == currency]
    context["trial_balance"] = [
        {"row": row, "debit": _money(row.debit, currency), "credit": _money(row.credit, currency),
         "balance": _money(row.balance, currency),
         "query": _query(keep, account=str(row.account.id), jto=on.isoformat())}
        for row in rows]
    context["trial_totals"] = (_money(sum((r.debit for r in rows), Decimal(0)), currency),
                               _money(sum((r.credit for r in rows), Decimal(0)), currency))
    found = selectors.unbilled(organization=organization, on=on, currency=currency)
    context["unbilled_rows"] = [{"row": row, "amount": _money(row.amount, currency)}
                                for row in found.invoices]

    context.update(_journal(request, organization, accounts))
    export = {"from": start.isoformat(), "to": end.isoformat(), "currency": currency}
    context["export"] = {kind: f"{reverse('api:revenue-journal-export')}?"
                               f"{urlencode({**export, 'format': kind})}"
                         for kind in ("csv", "json")}

    bound_id = account_form[0].id if account_form else None
    context["accounts"] = [{"account": a, "form": account_form[1]
                            if account_form and a.id == bound_id else
                            AccountForm(initial={"code": a.code, "name": a.name,
                                                 "gl_code": a.gl_code},
                                        prefix=f"a-{a.id}")}
                           for a in accounts]
    context["new_account_form"] = new_account_form or NewAccountForm(prefix="new")
    context.update(_close_panel(organization, params["today"], close_form, close_asked))
    return render(request, "revrec/revenue.html", context)


@member_required
def revenue(request):
    return _page(request)


# --- Changes ----------------------------------------------------------------------------------


def _back(request, anchor: str):
    target = reverse("revrec:revenue")
    query = request.POST.get("next_query", "")
    return redirect(f"{target}?{query}#{anchor}" if query else f"{target}#{anchor}")


@member_required(roles=WRITE_ROLES)
@require_POST
def account_edit(request, account_id):
    account = get_object_or_404(Account.objects.for_organization(request.organization),
                                id=account_id)
    form = AccountForm(request.POST, prefix=f"a-{account.id}")
    if form.is_valid():
        try:
            account = account_update(account=account, **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Account {account.code} {account.name} saved"
                                      f"{f' (GL code {account.gl_code})' if account.gl_code else ''}.")
            return _back(request, "accounts")
    return _page(request, account_form=(account, form))


@member_required(roles=WRITE_ROLES)
@require_POST
def account_new(request):
    form = NewAccountForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            account = account_create(organization=request.organization, **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Account {account.code} {account.name} added.")
            return _back(request, "accounts")
    return _page(request, new_account_form=form)


@member_required(roles=WRITE_ROLES)
@require_POST
def period_close(request):
    organization = request.organization
    form = CloseForm(request.POST)
    through = None
    if form.is_valid():
        through = form.cleaned_data["closed_through"]
        try:
            if through >= today(organization):
                raise ValidationError({"closed_through": [ValidationError(
                    f"{through.isoformat()} has not ended yet: close a past day.",
                    code="not_ended")]})
            with transaction.atomic():  # a refused close leaves nothing behind
                closing.period_close(
                    organization=organization, through=through,
                    closed_by=request.user.email or request.user.get_username(),
                    force=form.cleaned_data["force"], note=form.cleaned_data["note"])
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"The books are closed through {through.isoformat()}: "
                                      "nothing posts on or before that day any more.")
            return _back(request, "close")
    return _page(request, close_form=form, close_asked=through)
