"""Discounts: percentage or fixed, on a line or the whole contract, for a limited time.

A discount's duration is one of: the first ``periods`` billing periods (period index 0 is
the contract's first period), a date range ``[starts_on, ends_on)`` tested against the
period's start date (in the contract's time zone), or -- when neither is given -- the
whole term. Deciding whether a discount is active is :func:`discount_is_active`; computing
it is :func:`apply_discount`. A fixed discount is not prorated and never exceeds the amount
it applies to, so a discount never turns a charge into a credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from ._checks import currency_code, decimal_value, figure, money_figure, set_attr
from .errors import PricingError
from .result import PriceResult, Step, StepKind

__all__ = [
    "Discount",
    "DiscountKind",
    "DiscountScope",
    "apply_contract_discount",
    "apply_discount",
    "discount_is_active",
]


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"  # value is a percent: 10 means 10 % off
    FIXED = "fixed"  # value is an amount in the discount's currency


class DiscountScope(StrEnum):
    LINE = "line"  # applies to one price item's line
    CONTRACT = "contract"  # applies to the sum of the contract's lines for the period


@dataclass(frozen=True, kw_only=True)
class Discount:
    """A discount spec. ``periods`` and ``starts_on``/``ends_on`` are mutually exclusive."""

    currency: str
    kind: DiscountKind
    value: Decimal
    scope: DiscountScope = DiscountScope.LINE
    periods: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None

    def __post_init__(self) -> None:
        currency_code(self.currency)
        if not isinstance(self.kind, DiscountKind):
            raise PricingError(field="kind", message="must be a DiscountKind", code="invalid_type")
        if not isinstance(self.scope, DiscountScope):
            raise PricingError(field="scope", message="must be a DiscountScope",
                               code="invalid_type")
        value = decimal_value(self.value, field="value", positive=True)
        if self.kind is DiscountKind.PERCENTAGE and value > 100:
            raise PricingError(field="value", message="a percentage must be between 0 and 100",
                               code="out_of_bounds")
        set_attr(self, "value", value)
        if self.periods is not None and (
            isinstance(self.periods, bool) or not isinstance(self.periods, int) or self.periods < 1
        ):
            raise PricingError(field="periods", message="must be a whole number of at least 1",
                               code="out_of_bounds")
        has_dates = self.starts_on is not None or self.ends_on is not None
        if self.periods is not None and has_dates:
            raise PricingError(
                field="periods", message="give either periods or a date range, not both",
                code="invalid_period",
            )
        for name in ("starts_on", "ends_on"):
            bound = getattr(self, name)
            # A datetime is a date subclass but cannot be compared with one: refuse it here.
            if bound is not None and type(bound) is not date:
                raise PricingError(field=name, message="must be a date (not a datetime)",
                                   code="invalid_date")
        if self.starts_on and self.ends_on and self.ends_on <= self.starts_on:
            raise PricingError(field="ends_on", message="must be after starts_on",
                               code="invalid_period")


def discount_is_active(discount: Discount, *, period_index: int, period_start: date) -> bool:
    """Whether ``discount`` applies to the period with this index and start date.

    ``period_index`` counts the contract's billing periods from 0; ``period_start`` is the
    period's first day in the contract's time zone.
    """
    if isinstance(period_index, bool) or not isinstance(period_index, int) or period_index < 0:
        raise PricingError(field="period_index", message="must be a whole number, 0 or more")
    if type(period_start) is not date:
        raise PricingError(field="period_start", message="must be a date (not a datetime)")
    if discount.periods is not None:
        return period_index < discount.periods
    if discount.starts_on is not None and period_start < discount.starts_on:
        return False
    return discount.ends_on is None or period_start < discount.ends_on


def apply_discount(discount: Discount, *, amount: Decimal) -> PriceResult:
    """The (negative) discount line for an ``amount`` it applies to, rounded once.

    ``amount`` is the rounded line amount (line scope) or the sum of the period's rounded
    lines (contract scope; see :func:`apply_contract_discount`). The discount never exceeds
    it: ``0 <= -result.amount <= amount``.
    """
    amount = decimal_value(amount, field="amount")
    if discount.kind is DiscountKind.PERCENTAGE:
        off = amount * discount.value / 100
        description = f"{figure(discount.value)}% discount on {money_figure(amount, discount.currency)}"
        step = Step(
            kind=StepKind.DISCOUNT,
            description=description,
            quantity=amount,
            unit_price=-discount.value / 100,
            amount=-off,
        )
    else:
        off = min(discount.value, amount)
        capped = "" if off == discount.value else f" (capped at the amount {money_figure(amount, discount.currency)})"
        step = Step(
            kind=StepKind.DISCOUNT,
            description=f"Fixed discount of {money_figure(discount.value, discount.currency)}{capped}",
            quantity=Decimal(1),
            unit_price=-off,
            amount=-off,
        )
    return PriceResult.from_steps(currency=discount.currency, steps=[step])


def apply_contract_discount(discount: Discount, *, lines: Sequence[PriceResult]) -> PriceResult:
    """A contract-wide discount on the sum of the period's rounded ``lines`` (one currency)."""
    for index, line in enumerate(lines):
        if line.currency != discount.currency:
            raise PricingError(
                field=f"lines[{index}].currency", message="must match the discount's"
            )
    subtotal = sum((line.amount for line in lines), Decimal(0))
    return apply_discount(discount, amount=max(subtotal, Decimal(0)))
