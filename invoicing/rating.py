"""What a contract owes on one billing date, and what it owes again for dates already closed:
the lines, each with the derivation that explains its amount. Reads only (contracts, usage
through metering's selectors); ``invoicing.services`` persists the result.

Rules (the rest is the pricing engine's and the schedule's, see their docstrings):

- an item billed in advance is priced for its period's share; in arrears on its usage over
  the period ``[start, end)`` in the contract's time zone;
- a prepaid item bills its purchase once, in advance, when its phase starts; each period
  then bills (in arrears) only the usage beyond what earlier periods left of the block;
- a minimum spend commitment is trued up against the usage lines of the same period;
- a line discount applies while it is active (its first N periods of the item, or its date
  range); a contract discount applies, service period by service period, to the lines of
  that period: "the first N periods" counts the periods the lines cover, not billing dates;
- **corrections** -- one rule for every pricing model: a billing date whose invoice is final
  is rated again with today's facts (the terms after every amendment or cancellation, all
  the usage including late events, commitments, discounts, prepaid balances); for every
  charge (a product's line kind over one nominal period: its *billing key*) the difference
  between what it costs now and what the final invoices billed for it is billed on the next
  draft, as an ``adjustment`` (more) or a ``credit`` (less). A date no longer in the
  schedule (the contract was cancelled or amended before it) now owes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from contracts import price_config, schedule
from contracts.models import Contract, Discount, PriceItem
from contracts.pricing import Discount as DiscountSpec
from contracts.pricing import (
    DiscountKind,
    DiscountScope,
    FormulaInputs,
    PriceResult,
    StepKind,
    Transaction,
    apply_contract_discount,
    apply_discount,
    discount_is_active,
    draw_down,
    per_transaction_rule,
    prepaid_purchase,
    price,
    true_up,
)
from contracts.selectors import PURCHASE, contract_terms
from metering.selectors import LevelSpan, event_amounts, meters_by_key, recurring_levels
from metering.selectors import usage as usage_query
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

Meter = Any  # a metering meter, as metering's selectors return it


class UsageSource(Protocol):
    def quantity(self, *, meter: Meter, customer: str, start: datetime, end: datetime,
                 group: bool = False) -> Decimal | dict[tuple[Any, ...], Decimal]: ...

    def transactions(self, *, meter: Meter, customer: str, start: datetime,
                     end: datetime) -> Iterator[Transaction]:
        """The meter's events of ``customer`` in ``[start, end)`` with their amounts, earliest
        first (timestamp, then event id), streamed."""
        ...

    def levels(self, *, meter: Meter, customer: str, start: datetime,
               end: datetime) -> tuple[list[LevelSpan], int]:
        """A recurring meter's levels over ``[start, end)`` (the first spans, how many more):
        what explains a weighted sum."""
        ...


class DirectUsage:
    """Asks PostgreSQL for each quantity (one indexed query per meter and window)."""

    def __init__(self, organization: Organization) -> None:
        self.organization = organization

    def quantity(self, *, meter: Meter, customer: str, start: datetime, end: datetime,
                 group: bool = False) -> Decimal | dict[tuple[Any, ...], Decimal]:
        rows = usage_query(organization=self.organization, meter=meter, start=start, end=end,
                           customer=customer, group=group)
        if group:
            return {tuple((r.group or {}).values()): r.quantity or Decimal(0) for r in rows}
        return (rows[0].quantity if rows else None) or Decimal(0)

    def transactions(self, *, meter: Meter, customer: str, start: datetime,
                     end: datetime) -> Iterator[Transaction]:
        for event in event_amounts(organization=self.organization, meter=meter,
                                   customer=customer, start=start, end=end):
            yield Transaction(id=event.event_id, amount=event.amount)

    def levels(self, *, meter: Meter, customer: str, start: datetime,
               end: datetime) -> tuple[list[LevelSpan], int]:
        return recurring_levels(organization=self.organization, meter=meter,
                                customer=customer, start=start, end=end)


class PeriodIndex(Protocol):
    """``index(item, period)``: the 0-based number of ``period`` among the item's periods;
    ``index(None, None, on=date)``: the contract's period starting on or before ``on``."""

    def __call__(self, item: PriceItem | None, period: schedule.Period | None, *,
                 on: date | None = None) -> int: ...


def _no_periods(item: PriceItem | None, period: schedule.Period | None, *,
                on: date | None = None) -> int:
    return 0


@dataclass
class LineDraft:
    kind: str
    description: str
    amount: Decimal
    price_item: PriceItem | None = None
    period_start: date | None = None
    period_end: date | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    derivation: dict[str, Any] = field(default_factory=dict)
    product_pk: Any = None  # a correction's product, where no price item bills it any more

    @property
    def key(self) -> str:
        """Identifies the line across recomputations of a draft (for hand overrides)."""
        item = self.price_item.id if self.price_item else "-"
        return f"{self.kind}:{item}:{self.period_start}:{self.period_end}"

    @property
    def product_id(self) -> Any:
        if self.product_pk is not None:
            return self.product_pk
        return self.price_item.product_id if self.price_item else None

    @property
    def billing_key(self) -> str:
        return billing_key(product_id=self.product_id, kind=self.kind,
                           derivation=self.derivation, period_start=self.period_start,
                           period_end=self.period_end)


def billing_key(*, product_id: Any, kind: str, derivation: Mapping[str, Any],
                period_start: date | None,
                period_end: date | None) -> str:
    """What a line bills, as corrections compare it: the product, the line's kind and the
    nominal period it is part of (a stub of a period cut by an amendment has the same key as
    the full period it was billed for). A correction line bills the key it corrects.
    Amendments replace price items, never products: the key outlives them."""
    corrects = derivation.get("corrects") if isinstance(derivation, Mapping) else None
    if corrects:
        return str(corrects)
    start = derivation.get("nominal_start") or (period_start.isoformat() if period_start else "")
    end = derivation.get("nominal_end") or (period_end.isoformat() if period_end else "")
    return f"{product_id or '-'}|{kind}|{start}|{end}"


@dataclass(frozen=True)
class Billed:
    """A line of a final invoice, as corrections count it."""

    key: str
    amount: Decimal
    description: str = ""
    period_start: date | None = None
    period_end: date | None = None


def _result_line(kind: str, description: str, result: PriceResult, *, item: PriceItem | None,
                 period: schedule.Period | None,
                 quantity: Decimal | None = None,
                 extra: dict[str, Any] | None = None) -> LineDraft:
    steps = result.to_dict()["steps"]
    unit_price = None
    if quantity not in (None, Decimal(0)) and len(result.steps) == 1:
        unit_price = result.steps[0].unit_price
    return LineDraft(
        kind=kind, description=description, amount=result.amount, price_item=item,
        period_start=period.start if period else None, period_end=period.end if period else None,
        quantity=quantity, unit_price=unit_price,
        derivation={
            "model": item.model if item else None,
            "steps": steps,
            "unrounded_amount": str(result.unrounded_amount),
            **({"nominal_start": period.full.start.isoformat(),
                "nominal_end": period.full.end.isoformat(),
                "share": str(period.share)} if period else {}),
            **(extra or {}),
        },
    )


def _unit(meter: Meter) -> str:
    """What a meter's value counts, from its property: ``$.seats`` -> ``seats``."""
    return str(meter.value_property).rsplit(".", 1)[-1].strip("$[]'\"") or "units"


def _days(seconds: Decimal) -> str:
    days = (seconds / 86400).quantize(Decimal("0.001")).normalize()
    return f"{days:f}"


#: The decimal places of a weighted quantity (what a price's quantity takes).
WEIGHTED_PLACES = Decimal("1e-10")


def _of_whole(quantity: Decimal, period: schedule.Period) -> Decimal:
    """A time-weighted quantity over a stub, as a share of its whole period: 10 seats held
    over a stub of 15 days of a 30-day month are 5 seat-months (by second)."""
    held = Decimal(period.duration.total_seconds())
    whole = Decimal(period.full.duration.total_seconds())
    return (quantity * held / whole).quantize(WEIGHTED_PLACES)


def weighted_text(spans: list[LevelSpan], more: int, *, unit: str, quantity: Decimal,
                  whole: timedelta) -> str:
    """``3 seats for 10 of 30 days + 5 seats for 20 of 30 days = 4.333 seats over the
    period (time-weighted)``: each level held, for its share of the ``whole`` period
    (``spans`` cover the window from its start; ``more`` changes are not listed)."""
    total = _days(Decimal(whole.total_seconds()))
    if not spans:
        return f"No {unit} held in the period = 0 {unit}."
    parts = []
    for span in spans:
        held = _days(Decimal((span.end - span.start).total_seconds()))
        parts.append(f"{format(span.level.normalize(), 'f')} {unit} for {held} of {total} days")
    text = " + ".join(parts) + (f" + {more} more changes" if more else "")
    shown = quantity.quantize(Decimal("0.001")).normalize()
    return f"{text} = {shown:f} {unit} over the period (time-weighted)"


class ContractRater:
    """Rates one contract. Holds what is loaded once per contract (items, meters, terms)."""

    def __init__(self, contract: Contract, usage: UsageSource, *,
                 meters: dict[str, Meter] | None = None):
        """``contract`` may come with its phases (items, products) and discounts prefetched,
        and ``meters`` be the organization's by key: a run over many contracts loads them
        once rather than per contract."""
        self.contract = contract
        self.usage = usage
        self.currency = contract.currency
        self.customer = contract.customer.external_id
        prefetched = getattr(contract, "_prefetched_objects_cache", {})
        phases = contract.phases.all()
        if "phases" not in prefetched:
            phases = phases.prefetch_related("items__product")
        self.phases = list(phases)
        self.items = {str(i.id): i for p in self.phases for i in p.items.all()}
        self.discounts = list(contract.discounts.all() if "discounts" in prefetched
                              else Discount.objects.for_organization(
                                  contract.organization_id).filter(contract=contract))
        keys = {i.meter_key for i in self.items.values() if i.meter_key}
        for item in self.items.values():
            if item.model == "formula":
                keys |= set(self._spec(item).compiled.meters)
        if meters is None:
            meters = meters_by_key(organization=contract.organization, keys=keys) if keys else {}
        self.meters = {key: meters[key] for key in keys if key in meters}
        # A contract cancelled from its start has no phase: nothing is billed any more.
        self.terms = contract_terms(contract=contract) if self.phases else None
        self.variables = {k: Decimal(str(v)) for k, v in (contract.variables or {}).items()}

    def _spec(self, item: PriceItem) -> Any:
        return price_config.spec_from_config(
            model=item.model, config=item.pricing, currency=self.currency,
            metered=bool(item.meter_key),
        )

    def billing_dates(self, through: date) -> list[schedule.BillingDate]:
        if self.terms is None:
            return []
        return schedule.billing_dates(terms=self.terms, through=through)

    def _usage(self, key: str, period: schedule.Period, *,
               group: bool = False) -> Any:
        meter = self.meters.get(key)
        if meter is None:
            return {} if group else Decimal(0)
        quantity = self.usage.quantity(meter=meter, customer=self.customer,
                                       start=period.start_utc, end=period.end_utc, group=group)
        if (meter.aggregation == "weighted_sum" and period.is_stub
                and isinstance(quantity, Decimal)):
            # weighted over the stub: its units x seconds count against the whole period's
            quantity = _of_whole(quantity, period)
        return quantity

    def _weighted(self, key: str, period: schedule.Period,
                  quantity: Decimal) -> dict[str, Any]:
        """A time-weighted meter's quantity in words, level by level."""
        meter = self.meters.get(key)
        if meter is None or meter.aggregation != "weighted_sum":
            return {}
        spans, more = self.usage.levels(meter=meter, customer=self.customer,
                                        start=period.start_utc, end=period.end_utc)
        return {"explanation": weighted_text(spans, more, unit=_unit(meter), quantity=quantity,
                                             whole=period.full.duration)}

    def _window(self, key: str, period: schedule.Period) -> dict[str, Any]:
        return {"meter": key, "usage_window": [period.start_utc.isoformat(),
                                               period.end_utc.isoformat()]}

    # --- one charge -------------------------------------------------------------------------

    def item_of(self, charge: schedule.Charge) -> PriceItem:
        item: PriceItem = self.items[charge.item.key.removesuffix(PURCHASE)]
        return item

    def rate_charge(self, charge: schedule.Charge) -> list[LineDraft]:
        item = self.item_of(charge)
        spec = self._spec(item)
        period = charge.period
        label = item.description or item.product.name
        one_time = (item.cadence == "one_time")
        model = item.model
        if charge.item.key.endswith(PURCHASE):  # a prepaid block, once, when it starts
            return [_result_line("prepaid", f"{label}: prepaid purchase",
                                 prepaid_purchase(spec), item=item, period=period)]
        if model == "flat_fee":
            kind = "one_time" if one_time else "recurring"
            return [_result_line(kind, label, price(spec, share=charge.share), item=item,
                                 period=period, quantity=Decimal(1))]
        if model == "minimum_commitment":
            return []  # trued up in rate_date, against the period's usage lines
        if model in ("prepaid_units", "prepaid_credit"):
            return self._prepaid(item, spec, period, label)
        if model == "formula":
            meters = spec.compiled.meters
            used = {key: self._usage(key, period) for key in meters}
            variables = {**self.variables, "quantity": item.quantity or Decimal(0)}
            result = price(spec, quantity=FormulaInputs(variables=variables, usage=used),
                           share=charge.share)
            kind = "usage" if item.meter_key or meters else "recurring"
            return [_result_line(kind, label, result, item=item, period=period, extra={
                "usage": {k: str(v) for k, v in used.items()},
                "usage_window": [period.start_utc.isoformat(), period.end_utc.isoformat()],
            })]
        if model == "matrix":
            grouped = self._usage(item.meter_key, period, group=True)
            result = price(spec, quantity=grouped, share=charge.share)
            total = sum(grouped.values(), Decimal(0))
            return [_result_line("usage", label, result, item=item, period=period,
                                 quantity=total,
                                 extra={**self._window(item.meter_key, period),
                                        "usage_quantity": str(total),
                                        **_matrix_default(spec, result)})]
        if model == "percentage" and spec.per_transaction:
            return [self._per_transaction(item, spec, period, label, charge)]
        if model == "two_dimensional":
            a, b = spec.dimensions
            quantities = {
                a: self.variables.get(a, item.quantity or Decimal(0)),
                b: self._usage(item.meter_key, period) if item.meter_key else Decimal(0),
            }
            result = price(spec, quantity=quantities, share=charge.share)
            return [_result_line("usage", label, result, item=item, period=period,
                                 quantity=quantities[b],
                                 extra={**self._window(item.meter_key, period),
                                        "quantities": {k: str(v) for k, v in quantities.items()}})]
        # scalar models: a fixed quantity (seats) or a meter's usage
        if item.meter_key:
            quantity = self._usage(item.meter_key, period)
            result = price(spec, quantity=quantity, share=charge.share)
            return [_result_line("usage", label, result, item=item, period=period,
                                 quantity=quantity,
                                 extra={**self._window(item.meter_key, period),
                                        "usage_quantity": str(quantity),
                                        **self._weighted(item.meter_key, period, quantity)})]
        quantity = item.quantity or Decimal(0)
        result = price(spec, quantity=quantity, share=charge.share)
        return [_result_line("one_time" if one_time else "recurring", label, result, item=item,
                             period=period, quantity=quantity)]

    def _per_transaction(self, item: PriceItem, spec: Any, period: schedule.Period,
                         label: str, charge: schedule.Charge) -> LineDraft:
        """A percentage priced transaction by transaction: the meter's events of the period,
        streamed from metering into the engine (never all held at once)."""
        meter = self.meters.get(item.meter_key)
        tally = _Counted()
        if meter is not None:
            events = self.usage.transactions(meter=meter, customer=self.customer,
                                             start=period.start_utc, end=period.end_utc)
            result = price(spec, quantity=tally.through(events), share=charge.share)
        else:
            result = price(spec, quantity=(), share=charge.share)
        return _result_line("usage", label, result, item=item, period=period,
                            quantity=tally.amount, extra={
                                **self._window(item.meter_key, period),
                                "usage_quantity": str(tally.amount),
                                "transactions": tally.count,
                                "explanation": per_transaction_rule(spec)})

    def _prepaid(self, item: PriceItem, spec: Any, period: schedule.Period,
                 label: str) -> list[LineDraft]:
        """The period's draw-down of the block (the purchase is billed on its own charge)."""
        phase = item.phase
        first = period.start == phase.start_date
        lines = []
        # The balance at this period's start: what the purchase gave, less what every earlier
        # period of the phase used (recomputed, so a draft recomputed later agrees).
        before = schedule.Period(start=phase.start_date, end=period.start, tz=period.tz) \
            if not first else None
        used_before = self._usage(item.meter_key, before) if before else Decimal(0)
        units = spec.units if hasattr(spec, "units") else spec.credit / spec.unit_price
        balance = max(Decimal(0), units - used_before)
        if hasattr(spec, "credit"):
            balance = max(Decimal(0), spec.credit - used_before * spec.unit_price)
        used = self._usage(item.meter_key, period)
        drawn = draw_down(spec, usage=used, balance=balance)
        lines.append(_result_line("overage", f"{label}: usage beyond the prepaid balance",
                                  drawn.result, item=item, period=period,
                                  quantity=drawn.overage_units, extra={
                                      **self._window(item.meter_key, period),
                                      "usage_quantity": str(used),
                                      "balance_before": str(balance),
                                      "drawn": str(drawn.drawn),
                                      "balance_after": str(drawn.balance_after)}))
        return lines

    # --- one date ---------------------------------------------------------------------------

    def rate_date(self, billing: schedule.BillingDate, *,
                  period_index: PeriodIndex) -> list[LineDraft]:
        """All lines due on ``billing.on``: charges, true-ups, discounts. ``period_index``
        maps (item id, period start) to the item's period number (0-based) for discounts."""
        lines: list[LineDraft] = []
        for charge in billing.charges:
            item = self.item_of(charge)
            charge_lines = self.rate_charge(charge)
            lines += charge_lines
            if item.model == "minimum_commitment":
                usage_amounts = [
                    line.amount for line in lines
                    if line.kind == "usage" and line.period_start == charge.period.start
                    and line.price_item and line.price_item.phase_id == item.phase_id
                ]
                result = true_up(self._spec(item), usage_charges=usage_amounts,
                                 share=charge.share)
                if result.amount:
                    lines.append(_result_line(
                        "true_up", f"{item.description or item.product.name}: true-up to the "
                        "minimum commitment", result, item=item, period=charge.period,
                        extra={"usage_charges": [str(a) for a in usage_amounts]}))
                continue
            index = period_index(item, charge.period)
            for discount in self.discounts:
                if discount.price_item_id != item.id:
                    continue
                spec = self._discount_spec(discount, DiscountScope.LINE)
                if not discount_is_active(spec, period_index=index,
                                          period_start=charge.period.start):
                    continue
                base = sum((line.amount for line in charge_lines), Decimal(0))
                if base <= 0:
                    continue
                result = apply_discount(spec, amount=base)
                lines.append(_result_line(
                    "discount", f"Discount{': ' + discount.description if discount.description else ''}"
                    f" on {item.description or item.product.name}", result, item=item,
                    period=charge.period, extra={"period_index": index}))
        contract_discounts = [d for d in self.discounts if d.price_item_id is None]
        if contract_discounts and lines:
            lines += self._contract_discounts(contract_discounts, lines, billing.on,
                                              period_index)
        return lines

    def _contract_discounts(self, discounts: list[Discount], lines: list[LineDraft], on: date,
                            period_index: PeriodIndex) -> list[LineDraft]:
        """A contract discount, service period by service period: the date's lines are
        grouped by the nominal period they bill, and each group is discounted when the
        discount is active for that period (its index among the contract's periods, or its
        start within the discount's dates). A fixed amount is taken once per period: on the
        first date that bills the period."""
        groups: dict[tuple[str, str], list[LineDraft]] = defaultdict(list)
        for line in lines:
            start = line.derivation.get("nominal_start")
            if start:
                groups[(start, line.derivation["nominal_end"])].append(line)
        found = []
        for (start, end), group in sorted(groups.items()):
            period_start = date.fromisoformat(start)
            index = period_index(None, None, on=period_start)
            base = sum((line.amount for line in group), Decimal(0))
            for discount in discounts:
                spec = self._discount_spec(discount, DiscountScope.CONTRACT)
                if base <= 0 or not discount_is_active(spec, period_index=index,
                                                       period_start=period_start):
                    continue
                if discount.kind != "percent" and self._first_billed(start, end) != on:
                    continue
                result = apply_contract_discount(spec, lines=_as_results(group, self.currency))
                found.append(LineDraft(
                    kind="discount",
                    description=f"Discount{': ' + discount.description if discount.description else ''}",
                    amount=result.amount,
                    period_start=min(line.period_start for line in group
                                     if line.period_start is not None),
                    period_end=max(line.period_end for line in group
                                   if line.period_end is not None),
                    derivation={"steps": result.to_dict()["steps"], "period_index": index,
                                "nominal_start": start, "nominal_end": end}))
        return found

    def _first_billed(self, start: str, end: str) -> date | None:
        """The first billing date with a charge of the nominal period ``[start, end)``."""
        if not hasattr(self, "_first_dates"):
            self._first_dates: dict[tuple[str, str], date] = {}
            horizon = max([p.end_date or p.start_date for p in self.phases]
                          + [date.fromisoformat(end)])
            for billing in self.billing_dates(horizon):
                for charge in billing.charges:
                    full = charge.period.full
                    self._first_dates.setdefault(
                        (full.start.isoformat(), full.end.isoformat()), billing.on)
        return self._first_dates.get((start, end))

    def _discount_spec(self, discount: Discount, scope: DiscountScope) -> DiscountSpec:
        kind = DiscountKind.PERCENTAGE if discount.kind == "percent" else DiscountKind.FIXED
        return DiscountSpec(currency=self.currency, kind=kind, value=discount.value, scope=scope,
                            periods=discount.periods, starts_on=discount.starts_on,
                            ends_on=discount.ends_on)

    # --- corrections of closed dates -----------------------------------------------------------

    def corrections(self, *, closed: Mapping[date, Mapping[str, str]], billed: Iterable[Billed],
                    through: date, period_index: PeriodIndex) -> list[LineDraft]:
        """The lines that settle the closed billing dates with today's facts (see the module
        docstring). ``closed``: each date whose invoice is final, with that invoice's hand
        overrides (line key -> quantity), which a re-rating keeps. ``billed``: every line of
        the contract's final invoices (original lines and earlier corrections alike).

        Guarantees: for every billing key, what the final invoices billed plus the returned
        lines equals what the closed dates cost now, to the minor unit; nothing is returned
        when nothing changed. Reads usage; writes nothing."""
        schedule_dates = {billing.on: billing for billing in self.billing_dates(through)}
        due: dict[str, Decimal] = defaultdict(Decimal)
        now: dict[str, LineDraft] = {}
        for on in sorted(closed):
            billing = schedule_dates.get(on)
            if billing is None:  # no longer billed on that date: nothing is owed for it now
                continue
            for line in self.rate_date(billing, period_index=period_index):
                amount = overridden_amount(line, closed[on], self.currency)
                due[line.billing_key] += amount
                now.setdefault(line.billing_key, line)
        before: dict[str, Decimal] = defaultdict(Decimal)
        billed_lines: dict[str, Billed] = {}
        for entry in billed:
            before[entry.key] += entry.amount
            billed_lines.setdefault(entry.key, entry)
        lines = []
        for key in sorted(set(due) | set(before)):
            difference = due[key] - before[key]
            if not difference:
                continue
            current, earlier = now.get(key), billed_lines.get(key)
            shown: LineDraft | Billed | None = current or earlier
            assert shown is not None  # the key came from one of the two
            label = shown.description or "Charge"
            start, end = shown.period_start, shown.period_end
            nominal: dict[str, Any] = {
                name: current.derivation[name]
                for name in ("nominal_start", "nominal_end", "usage_window", "meter",
                             "usage_quantity") if name in current.derivation} if current else {}
            lines.append(LineDraft(
                kind="adjustment" if difference > 0 else "credit",
                description=f"Correction: {label}"
                            + (f" ({start.isoformat()} to {end.isoformat()})"
                               if start and end else ""),
                amount=difference, price_item=current.price_item if current else None,
                product_pk=key.split("|", 1)[0] if key.split("|", 1)[0] != "-" else None,
                period_start=start, period_end=end,
                derivation={
                    "corrects": key, "amount_now": str(round_money(due[key], self.currency)),
                    "billed_before": str(round_money(before[key], self.currency)),
                    "steps": current.derivation.get("steps", []) if current else [],
                    **nominal,
                }))
        return lines


class _Counted:
    """Counts the transactions (and adds up their amounts) as the engine reads them."""

    def __init__(self) -> None:
        self.count = 0
        self.amount = Decimal(0)

    def through(self, transactions: Iterable[Transaction]) -> Iterator[Transaction]:
        for transaction in transactions:
            self.count += 1
            self.amount += transaction.amount
            yield transaction


def _matrix_default(spec: Any, result: PriceResult) -> dict[str, Any]:
    """What of a matrix line fell to its default price: the usage of the combinations it does
    not list (a derivation's ``default_price``), or nothing."""
    defaulted = [step for step in result.steps if step.kind is StepKind.DEFAULT_CELL]
    if not defaulted:
        return {}
    quantity = sum((step.quantity or Decimal(0) for step in defaulted), Decimal(0))
    amount = sum((step.amount for step in defaulted), Decimal(0))
    return {
        "default_price": {
            "unit_price": str(spec.default_unit_price), "quantity": str(quantity),
            "amount": str(amount), "combinations": len(defaulted)},
        "explanation": (
            f"{len(defaulted)} combination{'s' if len(defaulted) != 1 else ''} the price list "
            f"does not name used {quantity.normalize():f} units, priced at the default unit price "
            f"{spec.default_unit_price.normalize():f}; the others at their listed prices."),
    }


def overridden_amount(line: LineDraft, overrides: Mapping[str, str], currency: str) -> Decimal:
    """A line's amount with the hand override of its quantity, where the invoice has one (the
    same rule a draft's recomputation keeps)."""
    override = overrides.get(line.key)
    if override is None or line.unit_price is None:
        return line.amount
    return round_money(Decimal(override) * line.unit_price, currency)


def _as_results(lines: list[LineDraft], currency: str) -> list[PriceResult]:
    from contracts.pricing import Step, StepKind

    return [
        PriceResult.from_steps(currency=currency, steps=[Step(
            kind=StepKind.FLAT, description=line.description, quantity=Decimal(1),
            unit_price=line.amount, amount=line.amount)])
        for line in lines
    ]


def period_counter(rater: ContractRater) -> PeriodIndex:
    """``index(item, period)``: the 0-based number of ``period`` among the item's periods
    since the contract started (for discounts limited to N periods); ``index(None, None,
    on=date)``: the number of the contract's period starting on or before ``on``."""
    terms = rater.terms
    if terms is None:  # no phase: nothing is rated
        return _no_periods
    cadences = {c.key: terms.cadence_of(c) for phase in terms.phases for c in phase.items}
    cache: dict[tuple[Any, date], int] = {}

    def index(item: PriceItem | None, period: schedule.Period | None, *,
              on: date | None = None) -> int:
        cadence = cadences.get(str(item.id), terms.cadence) if item is not None else terms.cadence
        start = on if period is None else period.start
        assert start is not None  # an index is of a period, or of a date
        if cadence.is_one_time:
            return 0
        if (cadence, start) not in cache:
            periods = schedule.billing_periods(
                start=terms.start, end=terms.end, cadence=cadence, anchor=terms.anchor,
                tz=terms.zone, through=start)
            cache[(cadence, start)] = max(0, len([p for p in periods if p.start <= start]) - 1)
        return cache[(cadence, start)]

    return index


def sum_amounts(lines: Iterable[LineDraft], currency: str) -> Decimal:
    return round_money(sum((line.amount for line in lines), Decimal(0)), currency)

