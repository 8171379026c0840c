"""Previews for a customer's engineers: the next invoice as it stands on a day, and what the
usage of the billing period in force costs so far. Both are rated by the ``ContractRater``
that generation bills with, on the usage up to the end of the day asked about.

Rules:

- ``as_of`` is a calendar day in the contract's time zone (default: today there). Usage counts
  up to the end of that day, never past it: the window of a period ``[start, end)`` is read as
  ``[start, min(end, as_of + 1 day))``. Events are never in the future, so the default is the
  usage so far.
- The upcoming invoice as of a day: the earliest billing date on or after it, of the
  customer's active contracts, whose invoice was not final by the end of that day (a date
  finalized later was still upcoming then), rated on that usage, with the customer's coupons
  (what they would take off it, given what they took off the other invoices) and tax.
- The current usage of a contract: the contract's billing period containing ``as_of``, and
  each usage-priced item (a meter's usage, a prepaid block's draw-down, a formula over meters)
  whose period contains it, with its quantity so far and its amount rated by the contract's
  pricing, less the item's own discounts. Contract-wide discounts, minimum-commitment true-ups
  and taxes apply to a whole invoice and are left out: they are known when the period closes.
  A contract is in force on a day when it was activated (active, cancelled or ended since)
  and its term ``[start, end)`` contains the day.

Guarantees: reads only (contracts, invoices, usage through metering's selectors); nothing is
written, and a caller may run these in a transaction it rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q

from contracts import schedule
from contracts.models import Contract, Customer, PriceItem
from contracts.pricing import Transaction
from contracts.selectors import PURCHASE
from invoicing import coupon_selectors, taxes
from invoicing.models import Invoice
from invoicing.rating import (
    ContractRater,
    DirectUsage,
    LineDraft,
    Meter,
    UsageSource,
    period_counter,
)
from metering.selectors import LevelSpan
from zenskar.core.dates import local_date

# Lines that price usage (a meter's, or a prepaid block's overage) and the item's own discounts.
USAGE_KINDS = ("usage", "overage")
DISCOUNT = "discount"
IN_FORCE = (Contract.Status.ACTIVE, Contract.Status.CANCELLED, Contract.Status.ENDED)


class UsageThrough:
    """A usage source that counts nothing at or after ``cutoff``: the usage "so far" as of an
    instant, whatever window the rater asks for."""

    def __init__(self, source: UsageSource, cutoff: datetime) -> None:
        self.source = source
        self.cutoff = cutoff

    def quantity(self, *, meter: Meter, customer: str, start: datetime, end: datetime,
                 group: bool = False) -> Decimal | dict[tuple[Any, ...], Decimal]:
        end = min(end, self.cutoff)
        if end <= start:
            return {} if group else Decimal(0)
        return self.source.quantity(meter=meter, customer=customer, start=start, end=end,
                                    group=group)

    def transactions(self, *, meter: Meter, customer: str, start: datetime,
                     end: datetime) -> Iterator[Transaction]:
        end = min(end, self.cutoff)
        if end <= start:
            return iter(())
        return self.source.transactions(meter=meter, customer=customer, start=start, end=end)

    def levels(self, *, meter: Meter, customer: str, start: datetime,
               end: datetime) -> tuple[list[LevelSpan], int]:
        end = min(end, self.cutoff)
        if end <= start:
            return [], 0
        return self.source.levels(meter=meter, customer=customer, start=start, end=end)


def usage_cutoff(*, as_of: date, time_zone: str) -> datetime:
    """The end of ``as_of`` in ``time_zone``: the first instant of the next local day (UTC)."""
    return schedule.local_day_start_utc(as_of + timedelta(days=1), schedule.resolve_tz(time_zone))


def _rater(contract: Contract, as_of: date) -> tuple[ContractRater, datetime]:
    cutoff = usage_cutoff(as_of=as_of, time_zone=contract.time_zone)
    usage = UsageThrough(DirectUsage(contract.organization), cutoff)
    return ContractRater(contract, usage), cutoff


# --- The upcoming invoice ----------------------------------------------------------------------


def upcoming_invoice(*, customer: Customer, as_of: date | None = None) -> dict[str, Any] | None:
    """What the customer's next invoice is as of ``as_of`` (default: today in each contract's
    zone): the earliest billing date on or after it, of the customer's active contracts, that
    had no final invoice by the end of that day, rated on the usage up to then. None when no
    contract bills again. Computed, never saved."""
    best: dict[str, Any] | None = None
    contracts = Contract.objects.for_organization(customer.organization_id).filter(
        customer=customer, status=Contract.Status.ACTIVE).order_by("start_date", "id")
    for contract in contracts:
        day = as_of or local_date(contract.time_zone)
        rater, cutoff = _rater(contract, day)
        final = set(Invoice.objects.for_organization(contract.organization_id).filter(
            contract=contract).exclude(status=Invoice.Status.DRAFT)
            .filter(Q(finalized_at__isnull=True) | Q(finalized_at__lt=cutoff))
            .values_list("billing_date", flat=True))
        upcoming = next((b for b in rater.billing_dates(day + timedelta(days=400))
                         if b.on >= day and b.on not in final), None)
        if upcoming is None or (best is not None and upcoming.on >= best["billing_date"]):
            continue
        lines = rater.rate_date(upcoming, period_index=period_counter(rater))
        best = {"contract": contract, "billing_date": upcoming.on, "lines": lines,
                "currency": contract.currency, "as_of": day, "usage_through": cutoff}
    if best is None:
        return None
    best["lines"] = [*best["lines"], *_coupons(customer, best)]
    subtotal = sum((line.amount for line in best["lines"]), Decimal(0))
    rate = taxes.rate_for(organization=customer.organization, customer=customer)
    tax = taxes.compute(lines=best["lines"], rate=rate, currency=best["currency"])
    best["subtotal"] = subtotal
    best["tax_total"] = tax.total
    best["total"] = subtotal + (Decimal(0) if tax.inclusive else tax.total)
    return best


def _coupons(customer: Customer, best: dict[str, Any]) -> list[LineDraft]:
    """The coupon lines the upcoming invoice would get (its draft's own applications, when it
    has a draft, are not counted as taken elsewhere)."""
    redemptions = coupon_selectors.customer_coupons_active(
        organization=customer.organization_id, customer_id=customer.id)
    if not redemptions:
        return []
    contract = best["contract"]
    draft = Invoice.objects.for_organization(contract.organization_id).filter(
        contract=contract, billing_date=best["billing_date"], corrections_only=False,
        status=Invoice.Status.DRAFT).values_list("id", flat=True).first()
    return [found.line for found in coupon_selectors.coupon_lines(
        organization=contract.organization_id, contract_id=contract.id,
        currency=best["currency"], billing_date=best["billing_date"], invoice_id=draft,
        redemptions=redemptions, lines=best["lines"])]


# --- The current usage -------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemUsage:
    """One usage-priced item over its period containing the day: its usage so far and what
    it costs (``amount``, rounded to the currency's minor unit) less its own discounts
    (``discount``, zero or negative)."""

    item: PriceItem
    meter: str | None
    period_start: date
    period_end: date
    quantity: Decimal
    amount: Decimal
    discount: Decimal
    derivation: dict[str, Any]

    @property
    def total(self) -> Decimal:
        return self.amount + self.discount


@dataclass(frozen=True)
class ContractUsage:
    """A contract's usage as of a day: ``period`` is its billing period containing the day
    (None when the contract is not in force on it), ``usage_through`` the instant usage is
    counted up to (exclusive)."""

    contract: Contract
    as_of: date
    period: schedule.Period | None
    usage_through: datetime
    items: list[ItemUsage] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.contract.currency

    @property
    def amount(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal(0))

    @property
    def discount(self) -> Decimal:
        return sum((item.discount for item in self.items), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.amount + self.discount


def _contract_period(terms: schedule.ContractTerms, as_of: date) -> schedule.Period | None:
    periods = schedule.billing_periods(start=terms.start, end=terms.end, cadence=terms.cadence,
                                       anchor=terms.anchor, tz=terms.zone, through=as_of)
    return next((p for p in periods if p.start <= as_of < p.end), None)


def _horizon(terms: schedule.ContractTerms, as_of: date) -> date:
    """A day on or after the billing date of every period containing ``as_of`` (in arrears a
    period bills on its end, at most its cadence's months -- each at most 31 days -- after
    ``as_of``; a one-time item's period is its phase)."""
    months = [terms.cadence.months or 0] + [
        terms.cadence_of(item).months or 0 for phase in terms.phases for item in phase.items]
    ends = [phase.end for phase in terms.phases
            if phase.end is not None and phase.start <= as_of < phase.end]
    return max([as_of + timedelta(days=31 * (max(months) + 1)), *ends])


def _item_usage(item: PriceItem, period: schedule.Period,
                lines: Sequence[LineDraft]) -> ItemUsage | None:
    priced = [line for line in lines if line.kind in USAGE_KINDS]
    if not priced:
        return None  # a fee, a purchase or a commitment: no usage prices it
    derivation = priced[0].derivation
    used = derivation.get("usage") or {}
    meter = item.meter_key or next(iter(sorted(used)), None)
    if "usage_quantity" in derivation:
        quantity = Decimal(derivation["usage_quantity"])
    elif meter is not None and meter in used:
        quantity = Decimal(used[meter])
    else:
        quantity = priced[0].quantity or Decimal(0)
    return ItemUsage(
        item=item, meter=meter or None, period_start=period.start, period_end=period.end,
        quantity=quantity, amount=sum((line.amount for line in priced), Decimal(0)),
        discount=sum((line.amount for line in lines if line.kind == DISCOUNT), Decimal(0)),
        derivation=derivation)


def contract_current_usage(*, contract: Contract, as_of: date | None = None) -> ContractUsage:
    """The usage of ``contract``'s billing period containing ``as_of`` (default: today in the
    contract's zone), item by item, as the contract's pricing rates it on the usage so far.
    A contract not in force on the day has no period and no items. Computed, never saved."""
    day = as_of or local_date(contract.time_zone)
    rater, cutoff = _rater(contract, day)
    terms = rater.terms
    in_force = (contract.status in IN_FORCE and terms is not None and terms.start <= day
                and (terms.end is None or day < terms.end))
    if not in_force or terms is None:
        return ContractUsage(contract=contract, as_of=day, period=None, usage_through=cutoff)
    charges = tuple(
        charge for billing in rater.billing_dates(_horizon(terms, day))
        for charge in billing.charges
        if charge.period.start <= day < charge.period.end
        and not charge.item.key.endswith(PURCHASE))
    lines = rater.rate_date(schedule.BillingDate(on=day, charges=charges),
                            period_index=period_counter(rater)) if charges else []
    items = []
    for charge in charges:
        item = rater.item_of(charge)
        found = _item_usage(item, charge.period, [
            line for line in lines if line.price_item is not None and line.price_item.id == item.id])
        if found is not None:
            items.append(found)
    return ContractUsage(contract=contract, as_of=day, period=_contract_period(terms, day),
                         usage_through=cutoff, items=items)


def customer_current_usage(*, customer: Customer,
                           as_of: date | None = None) -> list[ContractUsage]:
    """The current usage of each of the customer's contracts in force on ``as_of`` (default:
    today in each contract's zone), oldest contract first. Computed, never saved."""
    contracts = Contract.objects.for_organization(customer.organization_id).filter(
        customer=customer, status__in=IN_FORCE).select_related("customer", "organization")
    if as_of is not None:
        contracts = contracts.filter(Q(end_date__isnull=True) | Q(end_date__gt=as_of),
                                     start_date__lte=as_of)
    found = [contract_current_usage(contract=contract, as_of=as_of)
             for contract in contracts.order_by("start_date", "id")]
    return [usage for usage in found if usage.period is not None]
