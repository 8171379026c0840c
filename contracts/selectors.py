"""Reads for contracts: the lists' filters and the search, the document form, the schedule's
terms, the billing summary and schedule, and what an amendment starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from dateutil.relativedelta import relativedelta
from django.db.models import CharField, F, Func, Prefetch, Q, QuerySet, Value

from contracts import price_config, schedule
from contracts.models import CADENCE_MONTHS, Contract, Customer, Discount, Phase, PriceItem
from contracts.pricing import PriceResult, prepaid_purchase, price
from zenskar.core.dates import local_date
from zenskar.tenancy.models import Organization


def contracts_list(*, organization: Organization) -> QuerySet[Contract]:
    return Contract.objects.for_organization(organization).select_related("customer")


def _emails_text() -> Func:
    """The customer's billing e-mails as one text (``ArrayField`` has no "an element
    contains"): searched with the same ``icontains`` as the name."""
    return Func(F("emails"), Value(" "), function="array_to_string", output_field=CharField())


def customers_matching(*, organization: Organization, query: str) -> QuerySet[Customer]:
    """The customers whose name, external id or a billing e-mail contains ``query``, in any
    case (the customer list's search and the dashboard's global search)."""
    return Customer.objects.for_organization(organization).annotate(
        emails_text=_emails_text()).filter(
        Q(name__icontains=query) | Q(external_id__icontains=query)
        | Q(emails_text__icontains=query))


def contracts_matching(*, organization: Organization, query: str) -> QuerySet[Contract]:
    """The contracts whose name or paper reference contains ``query``, in any case."""
    return contracts_list(organization=organization).filter(
        Q(name__icontains=query) | Q(reference__icontains=query))


def customer_currencies(*, organization: Organization) -> list[str]:
    """The currencies a list may be filtered by: the customers' and the organization's."""
    found = set(Customer.objects.for_organization(organization).order_by()
                .values_list("currency", flat=True).distinct())
    return sorted(found | {organization.default_currency})


def customer_choices(*, organization: Organization) -> list[tuple[str, str]]:
    """``(external id, name)`` of every customer, by name: a list's customer filter."""
    return list(Customer.objects.for_organization(organization).order_by("name", "external_id")
                .values_list("external_id", "name"))


def contract_with_terms(*, organization: Organization, contract_id) -> Contract | None:
    items = PriceItem.objects.for_organization(organization).select_related(
        "product").prefetch_related("discounts")
    return (
        Contract.objects.for_organization(organization).filter(id=contract_id)
        .select_related("customer")
        .prefetch_related(
            Prefetch("phases", Phase.objects.prefetch_related(Prefetch("items", items))),
            Prefetch("discounts", Discount.objects.filter(price_item__isnull=True),
                     to_attr="contract_discounts"),
        )
        .first()
    )


def _discount_doc(discount: Discount) -> dict:
    return {
        "id": str(discount.id), "description": discount.description, "kind": discount.kind,
        "value": _number(discount.value), "periods": discount.periods,
        "starts_on": discount.starts_on.isoformat() if discount.starts_on else None,
        "ends_on": discount.ends_on.isoformat() if discount.ends_on else None,
    }


def _number(value: Decimal | None) -> str | None:
    """A stored number as plain decimal text: ``"100"``, ``"0.002"`` (never ``"1E+2"``)."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def item_document(item: PriceItem) -> dict:
    return {
        "id": str(item.id), "product": item.product.sku, "description": item.description,
        "timing": item.timing, "cadence": item.cadence or None,
        "cadence_months": item.cadence_months, "meter": item.meter_key or None,
        "quantity": _number(item.quantity), "model": item.model,
        "pricing": price_config.normalized(item.pricing),
        "discounts": [_discount_doc(d) for d in item.discounts.all()],
    }


def contract_document(*, contract: Contract) -> dict:
    """The contract as its document (``contracts.documents``): export, review, re-import."""
    phases = contract.phases.all().prefetch_related("items__product", "items__discounts")
    contract_discounts = contract.discounts.filter(price_item__isnull=True)
    return {
        "id": str(contract.id),
        "customer": contract.customer.external_id,
        "name": contract.name,
        "reference": contract.reference,
        "status": contract.status,
        "start_date": contract.start_date.isoformat(),
        "end_date": contract.end_date.isoformat() if contract.end_date else None,
        "currency": contract.currency,
        "time_zone": contract.time_zone,
        "cadence": contract.cadence,
        "cadence_months": contract.cadence_months,
        "anchor": contract.anchor,
        "anchor_day": contract.anchor_day,
        "anchor_weekday": contract.anchor_weekday or None,
        "payment_terms_days": contract.payment_terms_days,
        "auto_renew": contract.auto_renew,
        "renewal_term_months": contract.renewal_term_months,
        "renewal_notice_days": contract.renewal_notice_days,
        "variables": dict(contract.variables or {}),
        "phases": [
            {
                "id": str(phase.id), "name": phase.name,
                "start_date": phase.start_date.isoformat(),
                "end_date": phase.end_date.isoformat() if phase.end_date else None,
                "entitlements": dict(phase.entitlements or {}),
                "items": [item_document(item) for item in phase.items.all()],
            }
            for phase in phases
        ],
        "discounts": [_discount_doc(d) for d in contract_discounts],
    }


def _cadence(choice: str, months: int | None) -> schedule.Cadence:
    if choice == "one_time":
        return schedule.Cadence.one_time()
    if choice == "weekly":
        return schedule.Cadence.weekly()
    return schedule.Cadence(months=CADENCE_MONTHS.get(choice, months))


PREPAID_MODELS = ("prepaid_units", "prepaid_credit")
PURCHASE = ":purchase"  # the key suffix of a prepaid item's purchase


def _schedule_items(item: PriceItem) -> tuple[schedule.PriceItem, ...]:
    """A price item as the schedule bills it. A prepaid item is two: the purchase, once,
    in advance on its phase's start (key ``<id>:purchase``), and the draw-down with its
    overage each period as its timing says."""
    cadence = _cadence(item.cadence, item.cadence_months) if item.cadence else None
    billed = schedule.PriceItem(key=str(item.id), timing=schedule.Timing(item.timing),
                                cadence=cadence)
    if item.model not in PREPAID_MODELS:
        return (billed,)
    purchase = schedule.PriceItem(key=f"{item.id}{PURCHASE}", timing=schedule.Timing.ADVANCE,
                                  cadence=schedule.Cadence.one_time())
    return (purchase, billed)


def _anchor(contract: Contract) -> schedule.Anchor:
    if contract.anchor == "calendar":
        weekday = contract.anchor_weekday
        return schedule.Anchor.calendar(
            weekday=schedule.WEEKDAYS.index(weekday) if weekday else None)
    if contract.anchor == "anniversary":
        return schedule.Anchor.anniversary()
    return schedule.Anchor.day_of_month(contract.anchor_day)


def contract_terms(*, contract: Contract) -> schedule.ContractTerms:
    """The schedule's view of a contract; each item's key is its id (a prepaid item's
    purchase: ``<id>:purchase``)."""
    return schedule.ContractTerms(
        start=contract.start_date,
        end=contract.end_date,
        tz=contract.time_zone,
        cadence=_cadence(contract.cadence, contract.cadence_months),
        anchor=_anchor(contract),
        phases=tuple(
            schedule.Phase(
                start=phase.start_date,
                end=phase.end_date,
                items=tuple(
                    scheduled for item in phase.items.all() for scheduled in _schedule_items(item)
                ),
            )
            for phase in contract.phases.all()
        ),
    )


@dataclass(frozen=True)
class SummaryCharge:
    item: PriceItem
    period_start: date
    period_end: date
    share: Fraction
    estimate: PriceResult | None  # None for usage: it depends on what is used


@dataclass(frozen=True)
class SummaryDate:
    on: date
    charges: list[SummaryCharge]

    @property
    def known_total(self) -> Decimal:
        return sum((c.estimate.amount for c in self.charges if c.estimate), Decimal(0))

    @property
    def has_usage(self) -> bool:
        return any(c.estimate is None for c in self.charges)


#: The most billing dates the contract page prices and lists; past it, it counts the rest.
SCHEDULE_DATES = 120
#: How far ahead an evergreen contract's schedule looks by default, and each "further" step.
EVERGREEN_MONTHS = 13
FURTHER_MONTHS = 12


@dataclass(frozen=True)
class BillingSchedule:
    """The billing dates from a contract's start through ``through`` (inclusive): the first
    ``limit`` priced in ``dates``, and the count of the ``more`` that follow them."""

    dates: list[SummaryDate]
    through: date
    more: int
    whole_term: bool  # ``through`` is the contract's end: nothing is billed after it


def _evergreen_horizon(contract: Contract) -> date:
    today = local_date(contract.time_zone)
    return max(contract.start_date, today) + relativedelta(months=EVERGREEN_MONTHS)


def billing_schedule(*, contract: Contract, through: date | None = None,
                     limit: int = SCHEDULE_DATES) -> BillingSchedule:
    """What will be billed when, from the start: through the end of a fixed term, or (an
    evergreen contract) 13 months past the later of the start and today; ``through`` moves
    that horizon (never past the end). Only the first ``limit`` dates are priced, once per item
    and share, so a long term costs its dates, not its charges."""
    horizon = through or contract.end_date or _evergreen_horizon(contract)
    if contract.end_date is not None:
        horizon = min(horizon, contract.end_date)
    whole_term = horizon == contract.end_date
    if not contract.phases.exists():
        return BillingSchedule(dates=[], through=horizon, more=0, whole_term=whole_term)
    dates = schedule.billing_dates(terms=contract_terms(contract=contract), through=horizon)
    shown = dates[:limit]
    return BillingSchedule(dates=_priced(contract, shown), through=horizon,
                           more=len(dates) - len(shown), whole_term=whole_term)


def billing_summary(*, contract: Contract, through: date | None = None, limit: int = 12):
    """What will be billed when: the first ``limit`` billing dates (up to ``through``, by
    default 13 months after the later of the start and today), with each fixed charge
    priced (before discounts) and usage charges marked as such."""
    horizon = through or _evergreen_horizon(contract)
    return billing_schedule(contract=contract, through=horizon, limit=limit).dates


def _priced(contract: Contract, dates: list[schedule.BillingDate]) -> list[SummaryDate]:
    items = {
        str(i.id): i
        for i in PriceItem.objects.for_organization(contract.organization_id).filter(
            phase__contract=contract).select_related("product")
    }
    estimates: dict[tuple[str, Fraction], PriceResult | None] = {}
    summary = []
    for billing in dates:
        charges = []
        for charge in billing.charges:
            key, _, role = charge.item.key.partition(":")
            item = items[key]
            if (charge.item.key, charge.share) not in estimates:
                estimates[charge.item.key, charge.share] = _estimate(
                    contract, item, charge.share, purchase=bool(role))
            charges.append(
                SummaryCharge(
                    item=item, period_start=charge.period.start, period_end=charge.period.end,
                    share=charge.share, estimate=estimates[charge.item.key, charge.share],
                )
            )
        summary.append(SummaryDate(on=billing.on, charges=charges))
    return summary


def _estimate(contract: Contract, item: PriceItem, share: Fraction, *,
              purchase: bool = False) -> PriceResult | None:
    if purchase:  # a prepaid block's price, billed once when it starts
        return prepaid_purchase(price_config.spec_from_config(
            model=item.model, config=item.pricing, currency=contract.currency,
            metered=bool(item.meter_key)))
    if item.meter_key or item.model in ("formula", "minimum_commitment", "matrix",
                                         "two_dimensional"):
        return None
    spec = price_config.spec_from_config(
        model=item.model, config=item.pricing, currency=contract.currency, metered=False
    )
    if item.model in PREPAID_MODELS:
        return None
    if item.model == "flat_fee":
        return price(spec, share=share)
    return price(spec, quantity=item.quantity or Decimal(0), share=share)


def amendment_start(*, contract: Contract) -> date:
    """The day an amendment of ``contract`` takes effect unless said otherwise: the first day
    of its next billing period (today in its time zone when no period begins before its end);
    its start date while it has not started."""
    today = local_date(contract.time_zone)
    if today < contract.start_date:
        return contract.start_date
    cadence = _cadence(contract.cadence, contract.cadence_months)
    if cadence.is_one_time:  # no next period
        return today
    ahead = (relativedelta(weeks=cadence.weeks + 1) if cadence.weeks is not None
             else relativedelta(months=(cadence.months or 0) + 1))
    try:
        periods = schedule.billing_periods(
            start=contract.start_date, end=contract.end_date, cadence=cadence,
            anchor=_anchor(contract), tz=contract.time_zone, through=today + ahead,
        )
    except schedule.ScheduleError:  # terms the schedule refuses (the contract page says why)
        return today
    return next((period.start for period in periods if period.start > today), today)


def _without_ids(value):
    """A document part without its rows' ids: amended terms are new rows."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def amendment_phases(*, contract: Contract, effective_date: date) -> list[dict]:
    """The phases of ``contract``'s document in force from ``effective_date`` on, the one
    running on that day cut to start there: what an amendment from that day starts from."""
    phases = []
    for phase in contract_document(contract=contract)["phases"]:
        end = phase["end_date"]
        if end is not None and date.fromisoformat(end) <= effective_date:
            continue
        phase = _without_ids(phase)
        if date.fromisoformat(phase["start_date"]) < effective_date:
            phase["start_date"] = effective_date.isoformat()
        phases.append(phase)
    return phases
