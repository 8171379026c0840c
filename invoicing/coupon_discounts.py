"""What customer coupons take off one invoice: pure arithmetic, no Django (an import-linter
contract checks it). ``invoicing.services.coupons`` decides which coupons apply to the invoice
and what is left of each, calls :func:`apply_coupons` and records what it returns.

Rules:

- a coupon discounts the lines in its scope (lines of its products or priced on its meters;
  with no scope, every line) as they stand **after the contract's own discounts**: an item's
  discount is one of its lines, and a contract discount is spread over the lines of the
  period it discounted in proportion to their amounts;
- coupons apply one after the other, in the order given (the order of redemption): each takes
  its share off what the coupons before it left of the lines;
- a percentage coupon takes that percentage of its lines; a fixed coupon takes what is left of
  it, at most its lines' amount (the rest is for the next invoices);
- an invoice never goes below zero: a coupon takes at most what is left of the invoice's whole
  subtotal (corrections of earlier invoices and lines added by hand count in it, but are never
  discounted: they are not in any coupon's scope);
- each coupon's amount is rounded once, half-up, to the currency's minor unit; a coupon that
  would take nothing takes nothing (and is not reported).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from contracts.pricing import PriceResult, Step, StepKind
from zenskar.formatting import format_money
from zenskar.money import round_money

__all__ = ["Applied", "CouponKind", "CouponLine", "CouponTerms", "LineRole", "apply_coupons"]


class LineRole(StrEnum):
    CHARGE = "charge"  # a charge of a price item, or the item's own discount: may be in scope
    CONTRACT_DISCOUNT = "contract_discount"  # spread over the charges of its period
    OTHER = "other"  # counted in the invoice's subtotal, never discounted


class CouponKind(StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"


@dataclass(frozen=True, kw_only=True)
class CouponLine:
    """A line of the invoice as coupons see it. ``amount``: rounded, as on the invoice;
    ``period``: the nominal billing period it bills (contract discounts are spread over the
    charges of theirs)."""

    amount: Decimal
    role: LineRole
    product: str | None = None
    meter: str | None = None
    period: str | None = None


@dataclass(frozen=True, kw_only=True)
class CouponTerms:
    """One coupon as it applies to this invoice: ``key`` names it in the result; ``left``
    is what is left of a fixed coupon for this invoice (the rest already taken by others)."""

    key: str
    code: str
    kind: CouponKind
    currency: str
    percent_off: Decimal | None = None
    left: Decimal | None = None
    products: frozenset[str] = frozenset()
    meters: frozenset[str] = frozenset()

    def covers(self, line: CouponLine) -> bool:
        if line.role is not LineRole.CHARGE:
            return False
        if not self.products and not self.meters:
            return True
        return (line.product is not None and line.product in self.products) or (
            line.meter is not None and line.meter in self.meters)


@dataclass(frozen=True)
class Applied:
    """What one coupon takes off: ``amount`` (rounded, more than 0), the ``in_scope`` amount
    it was taken off (rounded), the indexes of its ``lines`` and the steps explaining it."""

    key: str
    amount: Decimal
    in_scope: Decimal
    lines: tuple[int, ...]
    result: PriceResult


def _net(lines: Sequence[CouponLine]) -> list[Decimal]:
    """Each charge's amount after its period's contract discounts (spread in proportion)."""
    base: dict[str | None, Decimal] = defaultdict(Decimal)
    off: dict[str | None, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.role is LineRole.CHARGE:
            base[line.period] += line.amount
        elif line.role is LineRole.CONTRACT_DISCOUNT:
            off[line.period] += line.amount
    net = []
    for line in lines:
        if line.role is not LineRole.CHARGE:
            net.append(Decimal(0))
            continue
        period_base = base[line.period]
        share = off[line.period] / period_base if period_base > 0 else Decimal(0)
        net.append(line.amount + line.amount * share)
    return net


def apply_coupons(*, lines: Sequence[CouponLine], coupons: Sequence[CouponTerms],
                  currency: str) -> list[Applied]:
    """What each of ``coupons`` (in order) takes off the invoice of ``lines``. Guarantees:
    every amount is more than 0 and at most the in-scope amount (after the coupons before
    it); a fixed coupon takes at most its ``left``; the subtotal less every amount is never
    below zero (nor lower than it was, when it already was)."""
    net = _net(lines)
    room = sum((line.amount for line in lines), Decimal(0))  # the subtotal left to discount
    found = []
    for coupon in coupons:
        scope = tuple(i for i, line in enumerate(lines) if coupon.covers(line))
        base = sum((net[i] for i in scope), Decimal(0))
        if base <= 0 or room <= 0:
            continue
        result = _discount(coupon, base=base, room=room, currency=currency)
        amount = -result.amount
        if amount <= 0:
            continue
        room -= amount
        for i in scope:
            net[i] -= amount * net[i] / base
        found.append(Applied(key=coupon.key, amount=amount,
                             in_scope=round_money(base, currency),
                             lines=scope, result=result))
    return found


def _money(value: Decimal, currency: str) -> str:
    return format_money(value, currency)


def _discount(coupon: CouponTerms, *, base: Decimal, room: Decimal,
              currency: str) -> PriceResult:
    """The (negative) discount of ``coupon`` on ``base``, at most ``room``, rounded once."""
    label = f"Coupon {coupon.code}"
    if coupon.kind is CouponKind.PERCENT:
        percent = (coupon.percent_off or Decimal(0)).normalize()  # 20.0000 -> 20
        off = base * percent / 100
        steps = [Step(kind=StepKind.DISCOUNT,
                      description=f"{label}: {format(percent, 'f')}% of "
                                  f"{_money(base, currency)} in scope",
                      quantity=base, unit_price=-percent / 100, amount=-off)]
    else:
        left = coupon.left or Decimal(0)
        off = min(left, base)
        capped = "" if off == left else \
            f", capped at the {_money(base, currency)} in scope (the rest for the next invoices)"
        steps = [Step(kind=StepKind.DISCOUNT,
                      description=f"{label}: {_money(left, currency)} left{capped}",
                      quantity=Decimal(1), unit_price=-off, amount=-off)]
    if off > room:
        steps.append(Step(kind=StepKind.MAXIMUM,
                          description=f"{label}: at most the invoice's "
                                      f"{_money(room, currency)} (never below zero)",
                          amount=off - room))
    return PriceResult.from_steps(currency=currency, steps=steps)
