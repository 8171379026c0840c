"""The pricing engine: one price item + its input + a share of the period -> a priced line.

Order of operations for one line (each step is recorded in the breakdown):

1. included units are taken off the quantity (scalar models only);
2. the model prices what is left (flat, per unit, percentage, package, tiers, matrix, ...);
3. the line's minimum, then its maximum, is applied to that subtotal;
4. a ``RECURRING`` line is multiplied by the share of the period;
5. the total is rounded once, by :func:`zenskar.money.round_money`.

For a ``USAGE`` line the share never touches the usage or the tier bounds; it scales the
included units, the minimum and the maximum (a half period includes half the free units).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import cast

from contracts.formula import FormulaError

from ._checks import decimal_value, figure, money_figure, scale, share_value
from .errors import PricingError
from .items import (
    ChargeType,
    FlatFee,
    FormulaPrice,
    Graduated,
    Matrix,
    Package,
    Percentage,
    PerUnit,
    PriceItem,
    StairStep,
    Tier,
    TierMode,
    TwoDimensionalTiers,
    Volume,
    _Bounded,
    _Scalar,
)
from .result import PriceResult, Step, StepKind
from .tiers import (
    describe_range,
    graduated_steps,
    package_steps,
    reached_tier,
    stair_step_steps,
    volume_steps,
)
from .transactions import Transaction, per_transaction_steps

__all__ = ["Amendment", "FormulaInputs", "Quantity", "price", "prorate_amendment"]


@dataclass(frozen=True, kw_only=True)
class FormulaInputs:
    """The input of a :class:`FormulaPrice`: named variables and usage per meter key."""

    variables: Mapping[str, Decimal] = field(default_factory=dict)
    usage: Mapping[str, Decimal] = field(default_factory=dict)


#: What ``price(quantity=...)`` takes, by item: nothing for a flat fee; a Decimal for the
#: scalar models; ``{(value_a, value_b, ...): quantity}`` for a matrix;
#: ``{dimension_a: quantity, dimension_b: quantity}`` for two-dimensional tiers;
#: :class:`FormulaInputs` for a formula; the period's transactions, earliest first, for a
#: percentage priced per transaction (any iterable: it is read once, never held).
Quantity = (
    Decimal | int | Mapping[tuple[str, ...], Decimal] | Mapping[str, Decimal] | FormulaInputs
    | Iterable[Transaction] | None
)


def price(
    item: PriceItem, *, quantity: Quantity = None, share: Fraction = Fraction(1)
) -> PriceResult:
    """Price one line.

    ``share`` is the part of the billing period the line covers (1 = the whole period).
    Guarantees: the result's ``amount`` is its ``unrounded_amount`` rounded once to the
    currency's minor unit; the steps sum to the unrounded amount; nothing is negative.
    Raises :class:`PricingError` naming ``quantity`` or ``share`` for a bad input.
    """
    share = share_value(share)
    if isinstance(item, FlatFee):
        if quantity is not None:
            raise PricingError(field="quantity", message="a flat fee takes no quantity")
        flat = Step(
            kind=StepKind.FLAT,
            description=f"Flat fee {money_figure(item.amount, item.currency)}",
            quantity=Decimal(1),
            unit_price=item.amount,
            amount=item.amount,
        )
        return PriceResult.from_steps(currency=item.currency, steps=_prorate([flat], share))
    if not isinstance(item, _Bounded):
        raise PricingError(field="item", message=f"not a price item: {type(item).__name__}")
    steps = _model(item, quantity, share)
    steps += _bounds(item, _total(steps), share)
    if item.charge_type is ChargeType.RECURRING:
        steps = _prorate(steps, share)
    return PriceResult.from_steps(currency=item.currency, steps=steps)


def _total(steps: list[Step]) -> Decimal:
    return sum((step.amount for step in steps), Decimal(0))


def _model(item: _Bounded, quantity: Quantity, share: Fraction) -> list[Step]:
    """The model's own steps, before the line's minimum, maximum and proration."""
    if isinstance(item, Percentage) and item.per_transaction:
        return per_transaction_steps(item, quantity) or [_no_charge("No transactions")]
    if isinstance(item, _Scalar):
        return _scalar(item, _quantity(quantity), share)
    if isinstance(item, Matrix):
        steps = _matrix(item, quantity)
    elif isinstance(item, TwoDimensionalTiers):
        steps = _two_dimensional(item, quantity)
    elif isinstance(item, FormulaPrice):
        steps = _formula(item, quantity)
    else:
        raise PricingError(field="item", message=f"not a price item: {type(item).__name__}")
    return steps or [_no_charge("Nothing used")]


def _quantity(value: object, *, field: str = "quantity") -> Decimal:
    if value is None:
        raise PricingError(field=field, message="is required for this price")
    return decimal_value(value, field=field)


def _no_charge(reason: str) -> Step:
    return Step(
        kind=StepKind.NO_CHARGE, description=f"{reason}: nothing to charge", amount=Decimal(0)
    )


def _scalar(item: _Scalar, quantity: Decimal, share: Fraction) -> list[Step]:
    """Included units first, then the model on the rest."""
    steps: list[Step] = []
    included = item.included_units
    if item.charge_type is ChargeType.USAGE:
        included = scale(included, share)
    free = min(included, quantity)
    if included > 0:
        of_period = (
            "" if included == item.included_units else _share_note(share, item.included_units)
        )
        steps.append(
            Step(
                kind=StepKind.INCLUDED,
                description=f"{figure(included)} units included free{of_period}; {figure(free)} used",
                quantity=free,
                unit_price=Decimal(0),
                amount=Decimal(0),
            )
        )
    billable = quantity - free
    model = _scalar_model(item, billable)
    return steps + (model or [_no_charge("No billable units")])


def _scalar_model(item: _Scalar, billable: Decimal) -> list[Step]:
    if isinstance(item, Graduated):
        return graduated_steps(item.tiers, billable)
    if isinstance(item, Volume):
        return volume_steps(item.tiers, billable)
    if isinstance(item, StairStep):
        return stair_step_steps(item.tiers, billable)
    if isinstance(item, Package):
        return package_steps(size=item.package_size, price=item.package_price, quantity=billable)
    if billable == 0:
        return []
    if isinstance(item, PerUnit):
        description = f"{figure(billable)} units x {figure(item.unit_price)}"
        return [_priced(StepKind.UNITS, description, billable, item.unit_price)]
    if isinstance(item, Percentage):
        rate = item.percent / 100
        description = f"{figure(item.percent)}% of {figure(billable)}"
        return [_priced(StepKind.PERCENTAGE, description, billable, rate)]
    raise PricingError(field="item", message=f"not a price item: {type(item).__name__}")


def _priced(kind: StepKind, description: str, quantity: Decimal, unit_price: Decimal) -> Step:
    return Step(
        kind=kind,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        amount=quantity * unit_price,
    )


def _matrix(item: Matrix, quantity: Quantity) -> list[Step]:
    """One step per combination used, in a stable (sorted) order."""
    if not isinstance(quantity, Mapping):
        raise PricingError(field="quantity", message="a matrix price takes {combination: quantity}")
    quantity = cast("Mapping[tuple[str, ...], Decimal]", quantity)
    steps = []
    for key in sorted(quantity, key=repr):
        here = f"quantity[{key!r}]"
        listed = key in item.prices
        if not listed and item.default_unit_price is None:
            raise PricingError(field=here, message="no price for this combination")
        units = _quantity(quantity[key], field=here)
        if units == 0:
            continue
        cell = ", ".join(
            f"{name}={'(none)' if value is None else value}"
            for name, value in zip(item.dimensions, key, strict=True)
        )
        if listed:
            unit_price, kind = item.prices[key], StepKind.CELL
        else:
            assert item.default_unit_price is not None  # refused above otherwise
            unit_price, kind = item.default_unit_price, StepKind.DEFAULT_CELL
            cell += " (not listed: the default price)"
        description = f"{cell}: {figure(units)} x {figure(unit_price)}"
        steps.append(_priced(kind, description, units, unit_price))
    return steps


def _two_dimensional(item: TwoDimensionalTiers, quantity: Quantity) -> list[Step]:
    """Dimension A picks the table (first ``up_to >= a``); the table prices dimension B."""
    name_a, name_b = item.dimensions
    if not isinstance(quantity, Mapping) or set(quantity) != {name_a, name_b}:
        raise PricingError(field="quantity", message=f"expected {{{name_a!r}: .., {name_b!r}: ..}}")
    quantity = cast("Mapping[str, Decimal]", quantity)
    a = _quantity(quantity[name_a], field=f"quantity[{name_a!r}]")
    b = _quantity(quantity[name_b], field=f"quantity[{name_b!r}]")
    # The tables' bounds on A work like tiers (Stripe's convention), except that a = 0,
    # which reaches no tier, still needs a table: it gets the first one.
    bounds = [Tier(up_to=table.up_to) for table in item.tables]
    index, lower, _ = reached_tier(bounds, a) or (0, Decimal(0), bounds[0])
    table = item.tables[index]
    selected = Step(
        kind=StepKind.TABLE,
        description=(
            f"{name_a} = {figure(a)} selects table {index + 1} "
            f"({name_a} {describe_range(lower, table.up_to)}) for {name_b}"
        ),
        amount=Decimal(0),
    )
    tiered = graduated_steps if item.mode is TierMode.GRADUATED else volume_steps
    return [selected, *tiered(table.tiers, b)]


def _formula(item: FormulaPrice, quantity: Quantity) -> list[Step]:
    if not isinstance(quantity, FormulaInputs):
        raise PricingError(field="quantity", message="a formula price takes FormulaInputs")
    try:
        value = item.compiled.evaluate(quantity.variables, quantity.usage)
    except FormulaError as error:
        raise PricingError(field="formula", message=str(error)) from None
    if value < 0:
        # A negative line would silently credit the customer: make the formula say max(0, ...).
        raise PricingError(field="formula", message=f"evaluated to a negative amount {value}")
    return [
        Step(kind=StepKind.FORMULA, description=f"{item.formula} = {figure(value)}", amount=value)
    ]


def _bounds(item: _Bounded, subtotal: Decimal, share: Fraction) -> list[Step]:
    """The line's minimum and maximum charge; for usage lines they scale with the share."""
    factor = share if item.charge_type is ChargeType.USAGE else Fraction(1)
    if item.minimum is not None and subtotal < scale(item.minimum, factor):
        floor = scale(item.minimum, factor)
        return [
            Step(
                kind=StepKind.MINIMUM,
                description=(
                    f"Minimum charge {money_figure(floor, item.currency)}{_share_note(factor, item.minimum)} "
                    f"applied to {figure(subtotal)}"
                ),
                amount=floor - subtotal,
            )
        ]
    if item.maximum is not None and subtotal > scale(item.maximum, factor):
        cap = scale(item.maximum, factor)
        return [
            Step(
                kind=StepKind.MAXIMUM,
                description=(
                    f"Maximum charge {money_figure(cap, item.currency)}{_share_note(factor, item.maximum)} "
                    f"applied to {figure(subtotal)}"
                ),
                amount=cap - subtotal,
            )
        ]
    return []


def _share_note(factor: Fraction, whole: Decimal) -> str:
    return "" if factor == 1 else f" ({factor} of the period's {figure(whole)})"


def _prorate(steps: list[Step], share: Fraction) -> list[Step]:
    """Append the proration adjustment: the whole-period subtotal times the share."""
    if share == 1:
        return steps
    subtotal = _total(steps)
    return [
        *steps,
        Step(
            kind=StepKind.PRORATION,
            description=f"Prorated to {share} of the period: {figure(subtotal)} x {share}",
            amount=scale(subtotal, share) - subtotal,
        ),
    ]


@dataclass(frozen=True, kw_only=True)
class Amendment:
    """The two lines a mid-period change produces."""

    credit: PriceResult  # the unused part of what the old terms charged in advance (negative)
    charge: PriceResult  # the new terms for the rest of the period

    @property
    def lines(self) -> tuple[PriceResult, PriceResult]:
        return (self.credit, self.charge)


def prorate_amendment(
    *,
    old_item: PriceItem,
    new_item: PriceItem,
    quantity_old: Quantity = None,
    quantity_new: Quantity = None,
    share_remaining: Fraction,
) -> Amendment:
    """Credit the unused part of an advance charge and charge the new terms for the rest.

    Assumes the old terms were billed in advance for the period (``RECURRING`` items only:
    usage is billed in arrears on what was used, so there is nothing to re-prorate).
    ``share_remaining`` is the part of the period after the change. Together with the
    advance charge the customer pays old terms x (1 - share_remaining) + new terms x
    share_remaining, to within one minor unit per line.
    """
    for name, item in (("old_item", old_item), ("new_item", new_item)):
        if getattr(item, "charge_type", None) is not ChargeType.RECURRING:
            raise PricingError(
                field=name, message="only recurring (advance-billed) items are prorated on change"
            )
    if old_item.currency != new_item.currency:
        raise PricingError(field="new_item.currency", message="must match the old item's currency")
    share = share_value(share_remaining, field="share_remaining")
    old = price(old_item, quantity=quantity_old, share=share)
    new = price(new_item, quantity=quantity_new, share=share)
    return Amendment(
        credit=old.negated(label="Credit for unused time on the old terms"),
        charge=new.labelled("Remaining time on the new terms"),
    )
