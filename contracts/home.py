"""Contracts on the home page (a panel of ``panels.HOME``): recurring revenue -- MRR and ARR
now and how MRR moved over twelve months (new, expansion, contraction, churn, net), with the
customers that moved it -- and the contracts ending or renewing in the next 60 days.

The reads are here, the arithmetic in ``contracts.metrics`` (pure). What counts as recurring:
a price item of a contract that has run (active, ended or cancelled: never a draft), with no
meter, billed on a cadence (not one-time, not a one-time product), priced on its own fixed
quantity (flat fee, per unit, package, tiers); priced for one whole period at list price
(before discounts) and divided by the months of its cadence (a weekly one: times 52 / 12).
Usage, formulas, matrices,
prepaid blocks and minimum commitments depend on what is used: they are not MRR.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from contracts import metrics, price_config
from contracts.models import CADENCE_MONTHS, Contract, PriceItem, Product
from contracts.pricing import PricingError, price
from zenskar.dashboard import overview
from zenskar.formatting import format_money
from zenskar.tenancy.models import Organization

#: Models priced on the item's own quantity: what is billed each period is known in advance.
FIXED_MODELS = ("flat_fee", "per_unit", "package", "graduated", "volume", "stair_step")
RAN = (Contract.Status.ACTIVE, Contract.Status.ENDED, Contract.Status.CANCELLED)
RENEWAL_DAYS = 60
RENEWALS_SHOWN = 8
CHANGES_SHOWN = 40
KIND_LABELS = {metrics.Kind.NEW: "New", metrics.Kind.EXPANSION: "Expansion",
               metrics.Kind.CONTRACTION: "Contraction", metrics.Kind.CHURN: "Churn"}
KIND_COLOURS = {metrics.Kind.NEW: "green", metrics.Kind.EXPANSION: "sky",
                metrics.Kind.CONTRACTION: "amber", metrics.Kind.CHURN: "red"}


# --- Reads ------------------------------------------------------------------------------------


def _months_of(item: PriceItem, contract: Contract) -> int | None:
    """Months per billing period of ``item`` (its cadence, else its contract's); None when
    billed once or weekly."""
    cadence, months = _cadence_of(item, contract)
    if cadence in ("one_time", "weekly"):
        return None
    return CADENCE_MONTHS.get(cadence, months)


def _cadence_of(item: PriceItem, contract: Contract) -> tuple[str, int | None]:
    return ((item.cadence, item.cadence_months) if item.cadence
            else (contract.cadence, contract.cadence_months))


def _monthly(item: PriceItem, contract: Contract) -> Decimal | None:
    """What ``item`` is worth a month at list price; None when it is no recurring revenue."""
    weekly = _cadence_of(item, contract)[0] == "weekly"
    months = _months_of(item, contract)
    if not (weekly or months):
        return None
    amount = _period_price(item, contract.currency)
    if amount is None:
        return None
    return metrics.weekly_monthly_value(amount) if weekly else metrics.monthly_value(
        amount, months or 1)


def _period_price(item: PriceItem, currency: str) -> Decimal | None:
    """What ``item`` bills for one whole period at list price, unrounded; None when its stored
    parameters no longer price (the schedule reports such an item; it is no MRR)."""
    try:
        spec = price_config.spec_from_config(model=item.model, config=item.pricing,
                                             currency=currency, metered=False)
        if item.model == "flat_fee":
            return price(spec).unrounded_amount
        return price(spec, quantity=item.quantity or Decimal(0)).unrounded_amount
    except PricingError:
        return None


@dataclass(frozen=True)
class RecurringBook:
    """The recurring charges of an organization (customer: the customer's id) and the names
    of their customers."""

    charges: list[metrics.RecurringCharge]
    names: dict[uuid.UUID, str]


def recurring_charges(*, organization: Organization, since: date) -> RecurringBook:
    """Every recurring charge still in force on or after ``since``, from one query."""
    items = (
        PriceItem.objects.for_organization(organization)
        .filter(phase__contract__status__in=RAN, meter_key="", model__in=FIXED_MODELS)
        .filter(Q(phase__end_date__isnull=True) | Q(phase__end_date__gt=since))
        .exclude(product__kind=Product.Kind.ONE_TIME)
        .select_related("phase__contract__customer")
        .order_by("phase__contract__customer__name", "phase__start_date", "position")
    )
    charges, names = [], {}
    for item in items:
        phase = item.phase
        contract = phase.contract
        monthly = _monthly(item, contract)
        if monthly is None:
            continue
        names[contract.customer_id] = contract.customer.name
        charges.append(metrics.RecurringCharge(
            customer=contract.customer_id, currency=contract.currency, start=phase.start_date,
            end=phase.end_date, monthly=monthly))
    return RecurringBook(charges, names)


@dataclass(frozen=True)
class CurrencyMrr:
    currency: str
    mrr: Decimal  # today
    movements: list[metrics.Movement]  # the twelve months ending with today's
    customers: int  # paying a recurring price today

    @property
    def arr(self) -> Decimal:
        return metrics.arr(self.mrr)


@dataclass(frozen=True)
class MrrReport:
    today: date
    currencies: list[CurrencyMrr]  # the organization's currency first
    names: dict[uuid.UUID, str]


def mrr_report(*, organization: Organization, today: date,
               months: int = overview.MONTHS) -> MrrReport:
    """MRR and ARR on ``today`` and MRR's movement over the ``months`` months ending with
    today's, per currency; currencies whose MRR was 0 all along are left out."""
    since = metrics.month_ends(today, months)[0]
    book = recurring_charges(organization=organization, since=since)
    by_currency = metrics.mrr_movements(book.charges, today=today, months=months)
    now = metrics.mrr_on(book.charges, today)
    paying: dict[str, set[Any]] = {}
    for charge in book.charges:
        if charge.in_force(today):
            paying.setdefault(charge.currency, set()).add(charge.customer)
    rows = [
        CurrencyMrr(currency, now.get(currency, metrics.ZERO), by_currency[currency],
                    len(paying.get(currency, ())))
        for currency in overview.currencies(organization, by_currency)
        if any(m.opening or m.closing for m in by_currency[currency])
    ]
    return MrrReport(today, rows, book.names)


def renewals(*, organization: Organization, today: date,
             days: int = RENEWAL_DAYS) -> tuple[list[Contract], int]:
    """The active contracts whose term ends in the next ``days`` days (their end date, the
    first day no longer covered, within ``(today, today + days]``), the soonest first, at most
    ``RENEWALS_SHOWN``; and how many there are."""
    contracts = (Contract.objects.for_organization(organization)
                 .filter(status=Contract.Status.ACTIVE, end_date__gt=today,
                         end_date__lte=today + timedelta(days=days))
                 .select_related("customer").order_by("end_date", "customer__name"))
    return list(contracts[:RENEWALS_SHOWN]), contracts.count()


# --- The panel --------------------------------------------------------------------------------


def _signed(amount: Decimal, currency: str) -> str:
    text = format_money(abs(amount), currency)
    return f"+{text}" if amount > 0 else (f"−{text}" if amount < 0 else text)


def _currency_block(row: CurrencyMrr, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    currency = row.currency
    labels = [overview.month_label(m.month) for m in row.movements]
    anchors = [f"#mrr-{currency}-{label}" for label in labels]
    kinds = list(KIND_LABELS)
    datasets = [
        overview.dataset(KIND_LABELS[kind],
                         [overview.figure(m.amount_of(kind), currency) for m in row.movements],
                         KIND_COLOURS[kind], stack="movement")
        for kind in kinds
    ]
    datasets.append(overview.dataset(
        "Net", [overview.figure(m.net, currency) for m in row.movements], "ink", type="line",
        stack="net"))
    changes = []
    for movement, label, anchor in reversed(list(zip(row.movements, labels, anchors,
                                                     strict=True))):
        for index, change in enumerate(sorted(movement.changes, key=lambda c: c.amount)):
            changes.append({
                "anchor": anchor[1:] if index == 0 else "", "month": label,
                "customer_id": change.customer,
                "customer": names.get(change.customer, ""),
                "kind": change.kind.value, "kind_label": KIND_LABELS[change.kind],
                "before": format_money(change.before, currency),
                "after": format_money(change.after, currency),
                "amount": _signed(change.amount, currency),
            })
    latest = row.movements[-1]
    return {
        "currency": currency,
        "mrr": format_money(row.mrr, currency), "arr": format_money(row.arr, currency),
        "customers": row.customers,
        "this_month": [{"label": KIND_LABELS[kind], "kind": kind.value,
                        "amount": _signed(latest.amount_of(kind), currency)} for kind in kinds]
        + [{"label": "Net", "kind": "net", "amount": _signed(latest.net, currency)}],
        "month_anchor": anchors[-1][1:],
        "chart_id": f"mrr-chart-{currency}", "data_id": f"mrr-chart-{currency}-data",
        "chart": overview.chart(kind="bar", labels=labels, datasets=datasets, currency=currency,
                                stacked=True, links=anchors),
        "changes": changes[:CHANGES_SHOWN], "more_changes": max(0, len(changes) - CHANGES_SHOWN),
    }


def home_panel(request: HttpRequest, organization: Organization) -> str:
    """The home page's recurring revenue and renewals."""
    today = overview.today(organization)
    report = mrr_report(organization=organization, today=today)
    upcoming, upcoming_count = renewals(organization=organization, today=today)
    return render_to_string("contracts/_home_panel.html", {
        "today": today,
        "blocks": [_currency_block(row, report.names) for row in report.currencies],
        "renewals": upcoming, "renewals_count": upcoming_count, "renewal_days": RENEWAL_DAYS,
        "active_contracts": reverse("contracts:contract-list") + "?status=active",
    }, request=request)
