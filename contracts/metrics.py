"""Recurring revenue: MRR and ARR on a day, and how MRR moved month by month.

Pure arithmetic: no Django (an import-linter contract checks it). ``contracts.home`` reads the
contracts and hands their recurring prices here as :class:`RecurringCharge` values.

Conventions
-----------
- **MRR** on a day is the sum of the monthly values of the recurring charges in force that
  day, per currency (two currencies are never added). A charge billed every N months is worth
  its price / N a month (annual / 12, quarterly / 3); one billed weekly, 52 weeks' worth
  over 12 months (its price x 52 / 12). **ARR** is MRR x 12.
- **In force**: local days, half-open, like contracts and phases: a charge of ``[start, end)``
  counts on ``start`` and not on ``end`` (the first day no longer covered).
- **Month ends**: a month's MRR is the MRR on its last day; the current month's is today's.
- **Movement** of a month, per customer: its MRR at the end of the month against the end of
  the month before. From 0 it is *new*; up, *expansion*; down but above 0, *contraction*;
  down to 0, *churn*. Contraction and churn are negative amounts, so a month's
  ``new + expansion + contraction + churn`` is its net movement, and the MRR at the end of a
  month is the MRR at the end of the month before plus that net.
- Amounts keep every digit (an annual 1,000.00 is 83.333... a month); they are rounded only
  where they are written for people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
MONTHS_PER_YEAR = 12


def monthly_value(amount: Decimal, months: int) -> Decimal:
    """What ``amount`` charged every ``months`` months is worth a month."""
    if isinstance(amount, float) or not isinstance(amount, Decimal | int):
        raise TypeError(f"amount must be a Decimal, got {type(amount).__name__}")
    if months < 1:
        raise ValueError(f"a recurring charge repeats every 1 month or more, got {months}")
    return Decimal(amount) / months


WEEKS_PER_YEAR = 52


def weekly_monthly_value(amount: Decimal) -> Decimal:
    """What ``amount`` charged every week is worth a month: 52 weeks' worth over 12 months."""
    if isinstance(amount, float) or not isinstance(amount, Decimal | int):
        raise TypeError(f"amount must be a Decimal, got {type(amount).__name__}")
    return Decimal(amount) * WEEKS_PER_YEAR / MONTHS_PER_YEAR


@dataclass(frozen=True, kw_only=True)
class RecurringCharge:
    """A recurring price of ``customer`` in force over the local days ``[start, end)``
    (``end=None``: open-ended), worth ``monthly`` a month in ``currency``."""

    customer: Hashable
    currency: str
    start: date
    end: date | None
    monthly: Decimal

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


def mrr_on(charges: Iterable[RecurringCharge], day: date) -> dict[str, Decimal]:
    """``{currency: MRR}`` on ``day``: the currencies with a charge in force that day."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for charge in charges:
        if charge.in_force(day):
            totals[charge.currency] += charge.monthly
    return dict(totals)


def arr(mrr: Decimal) -> Decimal:
    return mrr * MONTHS_PER_YEAR


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def month_starts(today: date, months: int) -> list[date]:
    """The first days of the ``months`` calendar months that end with ``today``'s, oldest
    first."""
    if months < 1:
        raise ValueError(f"months must be 1 or more, got {months}")
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def month_ends(today: date, months: int) -> list[date]:
    """The days MRR is read on for the ``months`` months ending with ``today``'s: the last day
    of the month before the first of them (the starting point), then each month's last day,
    today for the current month. ``months + 1`` days, oldest first."""
    starts = month_starts(today, months)
    before = starts[0] - timedelta(days=1)
    return [before, *(_month_end(first) for first in starts[:-1]), today]


class Kind(StrEnum):
    NEW = "new"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"


def movement_kind(before: Decimal, after: Decimal) -> Kind | None:
    """How one customer's MRR moved from ``before`` to ``after``; None when it did not."""
    if after == before:
        return None
    if before == ZERO:
        return Kind.NEW
    if after == ZERO:
        return Kind.CHURN
    return Kind.EXPANSION if after > before else Kind.CONTRACTION


@dataclass(frozen=True, kw_only=True)
class Change:
    """One customer's movement in a month: ``amount`` is after - before (negative for a
    contraction or churn)."""

    customer: Hashable
    kind: Kind
    before: Decimal
    after: Decimal

    @property
    def amount(self) -> Decimal:
        return self.after - self.before


@dataclass(frozen=True, kw_only=True)
class Movement:
    """A month of MRR: where it started and ended, and the customers that moved it."""

    month: date  # its first day
    opening: Decimal  # MRR at the end of the month before
    closing: Decimal  # MRR at the end of the month (today for the current one)
    changes: tuple[Change, ...] = field(default=())

    def amount_of(self, kind: Kind) -> Decimal:
        """The month's movement of one kind (negative for contraction and churn)."""
        return sum((c.amount for c in self.changes if c.kind is kind), ZERO)

    @property
    def new(self) -> Decimal:
        return self.amount_of(Kind.NEW)

    @property
    def expansion(self) -> Decimal:
        return self.amount_of(Kind.EXPANSION)

    @property
    def contraction(self) -> Decimal:
        return self.amount_of(Kind.CONTRACTION)

    @property
    def churn(self) -> Decimal:
        return self.amount_of(Kind.CHURN)

    @property
    def net(self) -> Decimal:
        return self.closing - self.opening


def movements(series: Mapping[Hashable, Sequence[Decimal]],
              months: Sequence[date]) -> list[Movement]:
    """The MRR movement of each of ``months`` (first days, oldest first), from each
    customer's MRR at the month ends: ``series[customer][0]`` at the end of the month before
    ``months[0]``, ``series[customer][i + 1]`` at the end of ``months[i]``. One currency.

    Guarantees: every month's ``new + expansion + contraction + churn == net ==
    closing - opening``; a customer moves at most once a month; changes are in the order of
    ``series``.
    """
    for customer, values in series.items():
        if len(values) != len(months) + 1:
            raise ValueError(f"customer {customer!r}: {len(values)} month ends for "
                             f"{len(months)} months (one more is needed: the starting point)")
    result = []
    for i, month in enumerate(months):
        changes = []
        for customer, values in series.items():
            kind = movement_kind(values[i], values[i + 1])
            if kind is not None:
                changes.append(Change(customer=customer, kind=kind, before=values[i],
                                      after=values[i + 1]))
        result.append(Movement(
            month=month,
            opening=sum((values[i] for values in series.values()), ZERO),
            closing=sum((values[i + 1] for values in series.values()), ZERO),
            changes=tuple(changes),
        ))
    return result


def mrr_movements(charges: Iterable[RecurringCharge], *, today: date,
                  months: int = 12) -> dict[str, list[Movement]]:
    """``{currency: [the movement of each of the months months ending with today's]}``: each
    customer's MRR read at the month ends (:func:`month_ends`), then :func:`movements`."""
    days = month_ends(today, months)
    series: dict[str, dict[Hashable, list[Decimal]]] = defaultdict(dict)
    for charge in charges:
        values = series[charge.currency].setdefault(charge.customer, [ZERO] * len(days))
        for index, day in enumerate(days):
            if charge.in_force(day):
                values[index] += charge.monthly
    starts = month_starts(today, months)
    return {currency: movements(by_customer, starts)
            for currency, by_customer in sorted(series.items())}
