"""A percentage priced per transaction, the way card processors charge (2.9% + 0.30 each).

The input is the period's transactions, earliest first (the caller orders them: metering reads
them by event timestamp, then event id). One pass over them, so a period of millions of
transactions is priced from a stream without holding it:

- the first ``free_transactions`` cost nothing;
- every other one costs ``percent x amount + fixed_fee``, raised to
  ``minimum_per_transaction`` and capped at ``maximum_per_transaction`` (each when set). A
  fee is never below 0: a transaction of a negative amount (a correction) with no minimum
  costs nothing; it does not take back the fee of the transaction it corrects;
- the fees are summed **unrounded**; the line (after its own minimum and maximum per period)
  is rounded once, to the currency's minor unit, like every line.

The breakdown says the same in a few steps, whatever the number of transactions: the free
ones, the percentage of the charged amounts, the fixed fees, and what the per-transaction
minimum and maximum added or took off; the steps sum to the sum of the clamped fees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ._checks import figure, money_figure
from .errors import PricingError, PricingTypeError
from .items import Percentage
from .result import Step, StepKind

__all__ = ["Transaction", "per_transaction_rule", "per_transaction_steps", "transaction_fee"]

#: How many transaction ids a step names as examples (the rest are counted).
EXAMPLES = 5


@dataclass(frozen=True, kw_only=True)
class Transaction:
    """One transaction of the period: its id (for the breakdown) and its amount."""

    id: str
    amount: Decimal


def transaction_fee(item: Percentage, amount: Decimal) -> Decimal:
    """The fee of one charged transaction, unrounded:
    ``clamp(percent x amount + fixed_fee, minimum_per_transaction, maximum_per_transaction)``,
    never below 0."""
    fee = amount * item.rate + (item.fixed_fee or Decimal(0))
    floor = item.minimum_per_transaction or Decimal(0)
    fee = max(fee, floor)
    if item.maximum_per_transaction is not None:
        fee = min(fee, item.maximum_per_transaction)
    return fee


def per_transaction_rule(item: Percentage) -> str:
    """The rule of ``item`` in words, for the line's derivation."""
    c = item.currency
    fee = f"{figure(item.percent)}% of its amount"
    if item.fixed_fee:
        fee += f" plus {money_figure(item.fixed_fee, c)}"
    limits = []
    if item.minimum_per_transaction is not None:
        limits.append(f"at least {money_figure(item.minimum_per_transaction, c)}")
    if item.maximum_per_transaction is not None:
        limits.append(f"at most {money_figure(item.maximum_per_transaction, c)}")
    text = f"Each transaction is charged {fee}" + (f", {' and '.join(limits)}" if limits else "")
    text += " (never less than nothing)." if item.minimum_per_transaction is None else "."
    if item.free_transactions:
        text += (f" The first {item.free_transactions:,} transactions of each billing period "
                 "are free (the earliest, by time and then event id).")
    return (text + " The fees are added up unrounded and the line is rounded once, to the "
            "currency's smallest unit.")


def _amount(transaction: object, index: int) -> tuple[str, Decimal]:
    if not isinstance(transaction, Transaction):
        raise PricingTypeError(field=f"quantity[{index}]",
                               message=f"must be a Transaction, not {type(transaction).__name__}")
    amount = transaction.amount
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise PricingTypeError(field=f"quantity[{index}].amount",
                               message=f"must be a Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise PricingError(field=f"quantity[{index}].amount", message="must be a finite number",
                           code="out_of_bounds")
    return str(transaction.id), amount


class _Tally:
    """What one pass over the transactions counts: enough to write the steps."""

    def __init__(self) -> None:
        self.count = 0
        self.free = 0
        self.free_amount = Decimal(0)
        self.free_ids: list[str] = []
        self.charged = 0
        self.charged_amount = Decimal(0)
        self.raised = 0
        self.raised_by = Decimal(0)
        self.raised_ids: list[str] = []
        self.capped = 0
        self.capped_by = Decimal(0)
        self.capped_ids: list[str] = []


def _examples(ids: list[str], count: int) -> str:
    shown = ", ".join(ids)
    more = count - len(ids)
    return f" ({shown}{f' and {more:,} more' if more else ''})" if ids else ""


def per_transaction_steps(item: Percentage, transactions: object) -> list[Step]:
    """The breakdown of ``item`` over ``transactions`` (earliest first), in one pass.

    Guarantees: the steps sum to the sum, over the transactions after the free ones, of
    :func:`transaction_fee`; nothing is rounded. No steps when there is no transaction.
    """
    if (transactions is None or isinstance(transactions, Decimal | int | str | bytes | Mapping)
            or not isinstance(transactions, Iterable)):
        raise PricingError(field="quantity",
                           message="a per-transaction percentage takes the period's transactions")
    free_allowance = item.free_transactions or 0
    fixed = item.fixed_fee or Decimal(0)
    floor = item.minimum_per_transaction or Decimal(0)
    cap = item.maximum_per_transaction
    t = _Tally()
    for index, transaction in enumerate(transactions):
        ident, amount = _amount(transaction, index)
        t.count += 1
        if t.free < free_allowance:
            t.free += 1
            t.free_amount += amount
            if len(t.free_ids) < EXAMPLES:
                t.free_ids.append(ident)
            continue
        t.charged += 1
        t.charged_amount += amount
        raw = amount * item.rate + fixed
        if raw < floor:
            t.raised += 1
            t.raised_by += floor - raw
            if len(t.raised_ids) < EXAMPLES:
                t.raised_ids.append(ident)
        elif cap is not None and raw > cap:
            t.capped += 1
            t.capped_by += cap - raw
            if len(t.capped_ids) < EXAMPLES:
                t.capped_ids.append(ident)
    return _steps(item, t)


def _steps(item: Percentage, t: _Tally) -> list[Step]:
    c = item.currency
    steps: list[Step] = []
    if t.free:
        steps.append(Step(
            kind=StepKind.FREE_TRANSACTIONS,
            description=(f"First {t.free:,} of {t.count:,} transactions free, the earliest"
                         f"{_examples(t.free_ids, t.free)}: "
                         f"{money_figure(t.free_amount, c)} not charged"),
            quantity=Decimal(t.free), unit_price=Decimal(0), amount=Decimal(0)))
    if not t.charged:
        return steps
    plural = "s" if t.charged != 1 else ""
    steps.append(Step(
        kind=StepKind.PERCENTAGE,
        description=(f"{figure(item.percent)}% of {money_figure(t.charged_amount, c)}, the "
                     f"amount of {t.charged:,} charged transaction{plural}"),
        quantity=t.charged_amount, unit_price=item.rate, amount=t.charged_amount * item.rate))
    if item.fixed_fee:
        steps.append(Step(
            kind=StepKind.TRANSACTION_FEE,
            description=(f"{t.charged:,} transaction{plural} x fixed fee "
                         f"{money_figure(item.fixed_fee, c)}"),
            quantity=Decimal(t.charged), unit_price=item.fixed_fee,
            amount=t.charged * item.fixed_fee))
    if t.raised:
        if item.minimum_per_transaction is not None:
            words = (f"{t.raised:,} transaction{'s' if t.raised != 1 else ''} raised to the "
                     f"minimum fee of {money_figure(item.minimum_per_transaction, c)} each")
        else:
            words = (f"{t.raised:,} transaction{'s' if t.raised != 1 else ''} of a negative "
                     "amount charged nothing (a fee is never negative)")
        steps.append(Step(kind=StepKind.TRANSACTION_MINIMUM,
                          description=words + _examples(t.raised_ids, t.raised),
                          quantity=Decimal(t.raised), amount=t.raised_by))
    if t.capped:
        assert item.maximum_per_transaction is not None  # only a maximum caps
        steps.append(Step(
            kind=StepKind.TRANSACTION_MAXIMUM,
            description=(f"{t.capped:,} transaction{'s' if t.capped != 1 else ''} capped at the "
                         f"maximum fee of {money_figure(item.maximum_per_transaction, c)} each"
                         + _examples(t.capped_ids, t.capped)),
            quantity=Decimal(t.capped), amount=t.capped_by))
    return steps
