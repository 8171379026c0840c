"""What pricing returns: a rounded amount, the unrounded amount, and the steps explaining it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from zenskar.money import Money, round_money

from ._checks import plain

__all__ = ["PriceResult", "Step", "StepKind"]


class StepKind(StrEnum):
    """What a breakdown step is, for code; ``Step.description`` says it for people."""

    FLAT = "flat"
    UNITS = "units"
    PERCENTAGE = "percentage"
    FREE_TRANSACTIONS = "free_transactions"
    TRANSACTION_FEE = "transaction_fee"  # the fixed fee of each charged transaction
    TRANSACTION_MINIMUM = "transaction_minimum"  # fees raised to the per-transaction minimum
    TRANSACTION_MAXIMUM = "transaction_maximum"  # fees capped at the per-transaction maximum
    BLOCKS = "blocks"
    TIER = "tier"
    TIER_FLAT_FEE = "tier_flat_fee"
    BAND = "band"
    CELL = "cell"
    DEFAULT_CELL = "default_cell"  # a matrix combination not listed, at the default price
    TABLE = "table"
    FORMULA = "formula"
    INCLUDED = "included"
    NO_CHARGE = "no_charge"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    PRORATION = "proration"
    PURCHASE = "purchase"
    DRAWDOWN = "drawdown"
    OVERAGE = "overage"
    TRUE_UP = "true_up"
    DISCOUNT = "discount"


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step of a breakdown.

    ``amount`` is unrounded and is what this step adds to the line (negative for a cap or
    a credit; zero for a purely explanatory step such as included units). For priced steps
    ``amount == quantity * unit_price``; adjustments (minimum, maximum, proration) have no
    unit price.
    """

    kind: StepKind
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready: decimals as plain strings, absent values as ``None``."""
        return {
            "kind": self.kind.value,
            "description": self.description,
            "quantity": None if self.quantity is None else plain(self.quantity),
            "unit_price": None if self.unit_price is None else plain(self.unit_price),
            "amount": plain(self.amount),
        }


@dataclass(frozen=True, kw_only=True)
class PriceResult:
    """A priced line: ``amount`` is rounded once to the currency's minor unit.

    Invariants (guaranteed by :meth:`from_steps`, the only constructor the engine uses):
    ``unrounded_amount == sum(step.amount for step in steps)`` and
    ``amount == round_money(unrounded_amount, currency)``.
    """

    currency: str
    amount: Decimal
    unrounded_amount: Decimal
    steps: tuple[Step, ...]

    @classmethod
    def from_steps(cls, *, currency: str, steps: Iterable[Step]) -> PriceResult:
        """Sum the steps and round the total, once, with :func:`round_money`."""
        steps = tuple(steps)
        unrounded = sum((step.amount for step in steps), Decimal(0))
        return cls(
            currency=currency,
            amount=round_money(unrounded, currency),
            unrounded_amount=unrounded,
            steps=steps,
        )

    @property
    def money(self) -> Money:
        """The rounded amount as :class:`Money`."""
        return Money(self.amount, self.currency)

    def labelled(self, label: str) -> PriceResult:
        """The same line with every step's description prefixed by ``label``."""
        steps = (replace(step, description=f"{label}: {step.description}") for step in self.steps)
        return replace(self, steps=tuple(steps))

    def negated(self, *, label: str) -> PriceResult:
        """The mirror-image credit of this line, every step prefixed with ``label``.

        Rounding is symmetric (half away from zero), so ``negated().amount == -amount``.
        """
        # The quantity flips sign too, so ``quantity * unit_price == amount`` still holds.
        steps = (
            replace(
                step,
                description=f"{label}: {step.description}",
                amount=_negate(step.amount),
                quantity=None if step.quantity is None else _negate(step.quantity),
            )
            for step in self.steps
        )
        return PriceResult.from_steps(currency=self.currency, steps=steps)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: decimals as plain strings (never floats), steps as dicts."""
        return {
            "currency": self.currency,
            "amount": plain(self.amount),
            "unrounded_amount": plain(self.unrounded_amount),
            "steps": [step.to_dict() for step in self.steps],
        }


def _negate(value: Decimal) -> Decimal:
    # ``-Decimal("0")`` is negative zero, which would print as "-0"; subtraction is not.
    return Decimal(0) - value
