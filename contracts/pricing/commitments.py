"""Commitments: prepaid blocks drawn down by usage, and minimum-spend true-ups.

* :class:`PrepaidUnits` -- a block of units bought up front (100 compute hours for 20.00);
  usage draws the unit balance down; units beyond it are billed at ``overage_unit_price``.
* :class:`PrepaidCredit` -- money bought up front (pay 900.00 for 1000.00 of credit); usage
  valued at ``unit_price`` draws the money balance down; usage beyond it is billed at
  ``overage_unit_price`` (by default the same rate).
* :class:`MinimumCommitment` -- a minimum spend per period; :func:`true_up` bills the
  shortfall when the period's usage charges fall below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from zenskar.money import round_money

from ._checks import (
    currency_code,
    decimal_value,
    figure,
    money_figure,
    optional_decimal,
    scale,
    set_attr,
    share_value,
)
from .errors import PricingError
from .result import PriceResult, Step, StepKind

__all__ = [
    "DrawDown",
    "MinimumCommitment",
    "PrepaidCredit",
    "PrepaidUnits",
    "draw_down",
    "prepaid_purchase",
    "true_up",
]


@dataclass(frozen=True, kw_only=True)
class PrepaidUnits:
    """``units`` bought for ``price``; usage beyond the balance costs ``overage_unit_price`` each."""

    currency: str
    units: Decimal
    price: Decimal
    overage_unit_price: Decimal

    def __post_init__(self) -> None:
        currency_code(self.currency)
        set_attr(self, "units", decimal_value(self.units, field="units", positive=True))
        set_attr(self, "price", decimal_value(self.price, field="price"))
        set_attr(
            self,
            "overage_unit_price",
            decimal_value(self.overage_unit_price, field="overage_unit_price"),
        )


@dataclass(frozen=True, kw_only=True)
class PrepaidCredit:
    """``credit`` of money bought for ``price``; usage is valued at ``unit_price`` per unit."""

    currency: str
    credit: Decimal
    price: Decimal
    unit_price: Decimal
    overage_unit_price: Decimal | None = None

    def __post_init__(self) -> None:
        currency_code(self.currency)
        set_attr(self, "credit", decimal_value(self.credit, field="credit", positive=True))
        set_attr(self, "price", decimal_value(self.price, field="price"))
        set_attr(
            self, "unit_price", decimal_value(self.unit_price, field="unit_price", positive=True)
        )
        overage = optional_decimal(self.overage_unit_price, field="overage_unit_price")
        set_attr(self, "overage_unit_price", self.unit_price if overage is None else overage)


@dataclass(frozen=True, kw_only=True)
class DrawDown:
    """The outcome of one period's usage against a prepaid balance.

    ``drawn`` and ``balance_after`` are in the balance's own terms: units for
    :class:`PrepaidUnits`, money for :class:`PrepaidCredit`. ``result`` is the overage line
    (amount 0 when the balance covered everything).
    """

    drawn: Decimal
    balance_after: Decimal
    overage_units: Decimal
    result: PriceResult

    @property
    def amount(self) -> Decimal:
        """The rounded overage amount to bill."""
        return self.result.amount


def prepaid_purchase(item: PrepaidUnits | PrepaidCredit, *, blocks: int = 1) -> PriceResult:
    """The line charging for ``blocks`` prepaid blocks (the up-front payment)."""
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise PricingError(field="blocks", message="must be a whole number of at least 1")
    what = (
        f"{figure(item.units)} units"
        if isinstance(item, PrepaidUnits)
        else f"{money_figure(item.credit, item.currency)} of credit"
    )
    step = Step(
        kind=StepKind.PURCHASE,
        description=f"Prepaid block of {what}: {blocks} x {money_figure(item.price, item.currency)}",
        quantity=Decimal(blocks),
        unit_price=item.price,
        amount=blocks * item.price,
    )
    return PriceResult.from_steps(currency=item.currency, steps=[step])


def draw_down(item: PrepaidUnits | PrepaidCredit, *, usage: Decimal, balance: Decimal) -> DrawDown:
    """Draw this period's ``usage`` from ``balance``; bill what the balance does not cover.

    Guarantees: ``balance_after == balance - drawn >= 0``; the overage line's amount is
    ``overage_units x overage_unit_price``, rounded once. A money draw is rounded to the
    currency's minor unit, so a credit balance always holds whole cents.
    """
    usage = decimal_value(usage, field="usage")
    balance = decimal_value(balance, field="balance")
    if isinstance(item, PrepaidUnits):
        drawn = min(usage, balance)
        overage_units = usage - drawn
        unit = "units"

        def shown(value: Decimal) -> str:
            return figure(value)
    else:
        value = round_money(usage * item.unit_price, item.currency)
        drawn = min(value, balance)
        # Units the balance could not pay for (zero when it covered the whole value; the
        # max() guards a balance holding fractions of a cent against a negative result).
        uncovered = usage - balance / item.unit_price
        overage_units = Decimal(0) if value <= balance else max(uncovered, Decimal(0))
        unit = "of credit"

        def shown(value: Decimal) -> str:
            return money_figure(value, item.currency)
    assert item.overage_unit_price is not None  # normalized in __post_init__
    steps = [
        Step(
            kind=StepKind.DRAWDOWN,
            description=(
                f"{figure(usage)} units used; {shown(drawn)} {unit} drawn from the prepaid "
                f"balance of {shown(balance)}, {shown(balance - drawn)} left"
            ),
            amount=Decimal(0),
        )
    ]
    if overage_units > 0:
        steps.append(
            Step(
                kind=StepKind.OVERAGE,
                description=f"{figure(overage_units)} units over the prepaid balance x "
                            f"{money_figure(item.overage_unit_price, item.currency)}",
                quantity=overage_units,
                unit_price=item.overage_unit_price,
                amount=overage_units * item.overage_unit_price,
            )
        )
    return DrawDown(
        drawn=drawn,
        balance_after=balance - drawn,
        overage_units=overage_units,
        result=PriceResult.from_steps(currency=item.currency, steps=steps),
    )


@dataclass(frozen=True, kw_only=True)
class MinimumCommitment:
    """The customer commits to spend at least ``amount`` per billing period."""

    currency: str
    amount: Decimal

    def __post_init__(self) -> None:
        currency_code(self.currency)
        set_attr(self, "amount", decimal_value(self.amount, field="amount"))


def true_up(
    commitment: MinimumCommitment,
    *,
    usage_charges: Sequence[Decimal],
    share: Fraction = Fraction(1),
) -> PriceResult:
    """The true-up line: how far the period's usage charges fell short of the commitment.

    ``usage_charges`` are the period's rounded line amounts that count toward the
    commitment. A partial period commits ``amount x share``. The line is 0 (with a step
    saying so) when the commitment was met; it is never negative.
    """
    share = share_value(share)
    committed = scale(commitment.amount, share)
    spent = sum(
        (
            decimal_value(charge, field=f"usage_charges[{i}]")
            for i, charge in enumerate(usage_charges)
        ),
        Decimal(0),
    )
    shortfall = max(committed - spent, Decimal(0))

    def money(value: Decimal) -> str:
        return money_figure(value, commitment.currency)

    of_period = "" if share == 1 else f" ({share} of {money(commitment.amount)})"
    verdict = f"true-up {money(shortfall)}" if shortfall else "commitment met, no true-up"
    step = Step(
        kind=StepKind.TRUE_UP,
        description=f"Minimum spend {money(committed)}{of_period}; usage charges {money(spent)}; {verdict}",
        amount=shortfall,
    )
    return PriceResult.from_steps(currency=commitment.currency, steps=[step])
