"""What is owed and how late: the aging of open invoices at any "as of" date.

An invoice counts when it was finalized on or before the as-of day and still had something
due at the end of that day (in the organization's time zone). Its amount due then is its
amount due now with every movement after that moment rolled back (payments, credit notes
and credit applied added back, refunds taken off): invoicing's settlements are the history
of the amount due. Void, draft and written-off (uncollectible) invoices are not receivables.

Buckets by days past due at the as-of day: ``current`` (not yet due), ``1_30``, ``31_60``,
``61_90``, ``91_120``, ``over_120``; per customer and currency, and per currency in total.
Amounts of two currencies are never added.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, Sum

from contracts.schedule import local_day_start_utc
from invoicing.models import Invoice, InvoiceSettlement
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0), ("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90),
    ("91_120", 91, 120), ("over_120", 121, None),
)
OPEN = (Invoice.Status.FINALIZED, Invoice.Status.PAID)
LOWERS_DUE = (InvoiceSettlement.Kind.PAYMENT, InvoiceSettlement.Kind.CREDIT_NOTE,
              InvoiceSettlement.Kind.CREDIT_APPLIED)


def bucket_of(days_past_due: int) -> str:
    for name, low, high in BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return name
    raise AssertionError("the buckets cover every day")  # pragma: no cover


@dataclass
class AgingRow:
    customer_id: str
    customer: str
    name: str
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: {b[0]: Decimal(0)
                                                                 for b in BUCKETS})
    invoices: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "customer": self.customer, "name": self.name,
                "currency": self.currency, "invoices": self.invoices,
                "buckets": {k: str(round_money(v, self.currency))
                            for k, v in self.buckets.items()},
                "total": str(round_money(self.total, self.currency))}


@dataclass
class Aging:
    as_of: date
    rows: list[AgingRow]

    def totals(self) -> dict[str, dict[str, Any]]:
        per: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: {b[0]: Decimal(0) for b in BUCKETS})
        for row in self.rows:
            for name, amount in row.buckets.items():
                per[row.currency][name] += amount
        return {currency: {"buckets": {k: str(round_money(v, currency))
                                       for k, v in buckets.items()},
                           "total": str(round_money(sum(buckets.values(), Decimal(0)),
                                                    currency))}
                for currency, buckets in sorted(per.items())}

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "buckets": [b[0] for b in BUCKETS],
                "currencies": self.totals(), "customers": [r.as_dict() for r in self.rows]}


def _end_of(day: date, zone: str) -> datetime:
    return local_day_start_utc(day + timedelta(days=1), ZoneInfo(zone))


def aging(*, organization: Organization, as_of: date) -> Aging:
    """The aging of the organization's receivables at the end of ``as_of``."""
    cutoff = _end_of(as_of, organization.time_zone)
    invoices = list(Invoice.objects.for_organization(organization).filter(
        Q(status__in=OPEN) | Q(status=Invoice.Status.VOID, voided_at__gt=cutoff),
        finalized_at__lt=cutoff, issue_date__lte=as_of,
    ).select_related("customer").order_by("customer__name", "currency", "due_date"))
    later = _movements_after(organization, [i.id for i in invoices], cutoff)
    rows: dict[tuple[str, str], AgingRow] = {}
    for invoice in invoices:
        due = (invoice.total if invoice.status == Invoice.Status.VOID else invoice.amount_due) \
            + later.get(invoice.id, Decimal(0))
        if due <= 0:
            continue
        days = (as_of - invoice.due_date).days if invoice.due_date else 0
        customer = invoice.customer
        row = rows.setdefault((str(customer.id), invoice.currency), AgingRow(
            customer_id=str(customer.id), customer=customer.external_id, name=customer.name,
            currency=invoice.currency))
        row.buckets[bucket_of(days)] += due
        row.invoices += 1
    return Aging(as_of=as_of, rows=list(rows.values()))


def _movements_after(organization: Organization, invoice_ids: list[Any],
                     cutoff: datetime) -> dict[Any, Decimal]:
    """Per invoice: what the movements after ``cutoff`` took off the amount due (to add back
    for the amount due at the cutoff)."""
    rows = InvoiceSettlement.objects.for_organization(organization).filter(
        invoice_id__in=invoice_ids, created_at__gte=cutoff,
    ).values("invoice_id", "kind").annotate(amount=Sum("amount"))
    back: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["kind"] in LOWERS_DUE:
            back[row["invoice_id"]] += row["amount"]
        elif row["kind"] == InvoiceSettlement.Kind.REFUND:
            back[row["invoice_id"]] -= row["amount"]
    return back


@dataclass(frozen=True)
class Collection:
    """How well a currency's receivables are collected over the ``days`` days ending on the
    as-of day (the formulas are the usual ones; each is None when its divisor is 0):

    - DSO, days sales outstanding = ending AR / sales x days;
    - best possible DSO = ending current AR / sales x days;
    - average days delinquent = DSO - best possible DSO;
    - CEI, collection effectiveness index = (beginning AR + sales - ending AR) /
      (beginning AR + sales - ending current AR) x 100.

    Sales are the totals of the invoices issued in the period; beginning AR is the aging's
    total at the end of the day before the period."""

    currency: str
    days: int
    beginning: Decimal
    sales: Decimal
    ending: Decimal
    ending_current: Decimal

    def _ratio(self, top: Decimal, bottom: Decimal, times: int) -> Decimal | None:
        if bottom == 0:
            return None
        return (top / bottom * times).quantize(Decimal("0.1"))

    @property
    def dso(self) -> Decimal | None:
        return self._ratio(self.ending, self.sales, self.days)

    @property
    def best_possible_dso(self) -> Decimal | None:
        return self._ratio(self.ending_current, self.sales, self.days)

    @property
    def average_days_delinquent(self) -> Decimal | None:
        if self.dso is None or self.best_possible_dso is None:
            return None
        return self.dso - self.best_possible_dso

    @property
    def cei(self) -> Decimal | None:
        return self._ratio(self.beginning + self.sales - self.ending,
                           self.beginning + self.sales - self.ending_current, 100)

    def as_dict(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {"days": self.days, "beginning_ar": str(round_money(self.beginning, self.currency)),
                "sales": str(round_money(self.sales, self.currency)),
                "ending_ar": str(round_money(self.ending, self.currency)),
                "ending_current_ar": str(round_money(self.ending_current, self.currency)),
                "dso": text(self.dso), "best_possible_dso": text(self.best_possible_dso),
                "average_days_delinquent": text(self.average_days_delinquent),
                "cei": text(self.cei)}


def collection(*, organization: Organization, as_of: date, days: int = 90
               ) -> dict[str, Collection]:
    """``Collection`` per currency over the ``days`` days ending on ``as_of``."""
    start = as_of - timedelta(days=days)
    ending, beginning = aging(organization=organization, as_of=as_of), aging(
        organization=organization, as_of=start)
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in ending.rows:
        sums[row.currency]["ending"] += row.total
        sums[row.currency]["current"] += row.buckets["current"]
    for row in beginning.rows:
        sums[row.currency]["beginning"] += row.total
    for currency, total in Invoice.objects.for_organization(organization).filter(
            issue_date__gt=start, issue_date__lte=as_of,
            status__in=(*OPEN, Invoice.Status.UNCOLLECTIBLE)).values_list("currency").annotate(
            total=Sum("total")):
        sums[currency]["sales"] += total
    return {currency: Collection(currency=currency, days=days, beginning=s["beginning"],
                                 sales=s["sales"], ending=s["ending"],
                                 ending_current=s["current"])
            for currency, s in sorted(sums.items())}
