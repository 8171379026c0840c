"""The Receivables page: the aging of open invoices at an "as of" day, per currency (the
bucket totals drawn as a bar chart, the customers and their buckets in a table) with the
collection figures of the 90 days to that day. Reads through ``receivables.selectors``;
two currencies are never added."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse

from receivables import selectors
from zenskar import bounds
from zenskar.core.dates import local_date
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.money import round_money

LABELS = {"current": "Current", "1_30": "1–30 days", "31_60": "31–60 days",
          "61_90": "61–90 days", "91_120": "91–120 days", "over_120": "Over 120 days"}
NAMES = [name for name, _, _ in selectors.BUCKETS]


def _in_bounds(value: date) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise ValidationError(str(error), code="out_of_bounds") from None


class AsOfForm(forms.Form):
    as_of = forms.DateField(required=False, label="As of", validators=[_in_bounds],
                            widget=forms.DateInput(attrs={"type": "date"}))


def _as_of(request, today: date) -> tuple[AsOfForm, date]:
    """The day asked for, or today; a day that is not one is said, and today shown."""
    form = AsOfForm(request.GET)
    if form.is_valid() and form.cleaned_data.get("as_of"):
        return form, form.cleaned_data["as_of"]
    if not form.is_valid():
        raw = request.GET.get("as_of", "")
        reason = " ".join(form.errors.get("as_of", []))
        messages.error(request, f"“{raw}” is not a day the report can be run for ({reason}): "
                                f"showing today, {today.isoformat()}.")
    return AsOfForm(initial={"as_of": today}), today


def _figure(value: str | None, unit: str) -> str:
    return "—" if value is None else f"{value}{unit}"


def _currency_block(currency: str, rows: list[selectors.AgingRow],
                    collection: selectors.Collection | None) -> dict[str, Any]:
    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    sums = {name: sum((r.buckets[name] for r in rows), Decimal(0)) for name in NAMES}
    total = sum(sums.values(), Decimal(0))
    overdue = total - sums["current"]
    figures = collection.as_dict() if collection else {}
    invoice_list = reverse("invoicing:invoice-list")
    return {
        "currency": currency,
        "total": money(total),
        "overdue": money(overdue),
        "overdue_share": f"{(overdue / total * 100).quantize(Decimal('1'))}%" if total else "",
        "customers": len(rows),
        "dso": _figure(figures.get("dso"), " days"),
        "best_possible_dso": _figure(figures.get("best_possible_dso"), " days"),
        "average_days_delinquent": _figure(figures.get("average_days_delinquent"), " days"),
        "cei": _figure(figures.get("cei"), "%"),
        "days": figures.get("days"),
        "chart": {"id": f"aging-chart-{currency}", "currency": currency,
                  "labels": [LABELS[name] for name in NAMES],
                  "data": [str(round_money(sums[name], currency)) for name in NAMES]},
        "bucket_totals": [money(sums[name]) for name in NAMES],
        "rows": [{
            "row": row,
            "cells": [money(row.buckets[name]) if row.buckets[name] else ""
                      for name in NAMES],
            "total": money(row.total),
            "invoices_url": f"{invoice_list}?{urlencode({'customer': row.customer})}",
        } for row in sorted(rows, key=lambda r: (-r.total, r.name.lower()))],
    }


@member_required
def aging(request):
    organization = request.organization
    today = local_date(organization.time_zone)
    form, as_of = _as_of(request, today)
    report = selectors.aging(organization=organization, as_of=as_of)
    collection = selectors.collection(organization=organization, as_of=as_of)
    per_currency: dict[str, list[selectors.AgingRow]] = {}
    for row in report.rows:
        per_currency.setdefault(row.currency, []).append(row)
    blocks = [_currency_block(currency, rows, collection.get(currency))
              for currency, rows in sorted(per_currency.items())]
    return render(request, "receivables/aging.html", {
        "active": "receivables", "form": form, "as_of": as_of, "today": today,
        "blocks": blocks, "columns": ", ".join(
            ["Customer", "Invoices:num", *[f"{LABELS[n]}:num" for n in NAMES], "Total:num"]),
        "charts": [block["chart"] for block in blocks],
    })
