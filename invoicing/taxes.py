"""Taxes by the customer's country (and region where set): exclusive (added to the lines) or
inclusive (already in the prices). An exempt customer pays none.

The tax of an invoice is computed once, on the sum of its lines (the base), and rounded once;
each line records its rate and its own share of the tax for display.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from contracts.models import Customer
from invoicing.models import Invoice, TaxRate
from zenskar.money import round_money


@dataclass(frozen=True)
class TaxResult:
    rate: TaxRate | None
    base: Decimal
    total: Decimal
    inclusive: bool
    per_line: list[tuple[Decimal | None, Decimal]]


def rate_for(*, organization, customer: Customer) -> TaxRate | None:
    """The rate for the customer's country and region (a regional rate wins over the
    country's), or None: exempt, no country, or no rate defined."""
    if customer.tax_exempt or not customer.country:
        return None
    rates = TaxRate.objects.filter(organization=organization, country=customer.country,
                                   active=True)
    regional = [r for r in rates if r.region and r.region.lower() == customer.region.lower()]
    if regional:
        return regional[0]
    return next((r for r in rates if not r.region), None)


def compute(*, lines: Iterable, rate: TaxRate | None, currency: str) -> TaxResult:
    lines = list(lines)
    base = sum((line.amount for line in lines), Decimal(0))
    if rate is None or base <= 0:
        return TaxResult(rate, base, Decimal(0), False, [(None, Decimal(0)) for _ in lines])
    r = rate.rate / 100
    if rate.inclusive:
        total = round_money(base - base / (1 + r), currency)
        per_line = [(rate.rate, round_money(line.amount - line.amount / (1 + r), currency))
                    for line in lines]
    else:
        total = round_money(base * r, currency)
        per_line = [(rate.rate, round_money(line.amount * r, currency)) for line in lines]
    return TaxResult(rate, base, total, rate.inclusive, per_line)


def is_inclusive(invoice: Invoice) -> bool:
    return invoice.tax_total > 0 and invoice.total == invoice.subtotal
