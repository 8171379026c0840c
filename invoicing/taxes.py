"""Taxes by the customer's country (and region where set): exclusive (added to the lines) or
inclusive (already in the prices). An exempt customer pays none.

The tax of an invoice is computed once, on the sum of its lines (the base), and rounded once;
each line records its rate and its own share of the tax for display. Credits (negative lines,
an invoice whose base is negative) carry tax too, at the same rate: a customer who paid
$100 + 20 % and is credited half gets $60 back, not $50.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from contracts.models import Customer
from invoicing.models import Invoice, TaxRate
from zenskar import bounds
from zenskar.money import round_money
from zenskar.tenancy.models import Organization


@dataclass(frozen=True)
class TaxResult:
    rate: TaxRate | None
    base: Decimal
    total: Decimal
    inclusive: bool
    per_line: list[tuple[Decimal | None, Decimal]]


def rate_for(*, organization: Organization, customer: Customer) -> TaxRate | None:
    """The rate for the customer's country and region (a regional rate wins over the
    country's), or None: exempt, no country, or no rate defined."""
    if customer.tax_exempt or not customer.country:
        return None
    rates = TaxRate.objects.for_organization(organization).filter(country=customer.country,
                                                                  active=True)
    regional = [r for r in rates if r.region and r.region.lower() == customer.region.lower()]
    if regional:
        return regional[0]
    return next((r for r in rates if not r.region), None)


def compute(*, lines: Iterable[Any], rate: TaxRate | None, currency: str) -> TaxResult:
    """The tax of an invoice's lines: on their sum (the base), rounded once; each line's own
    share for display. A negative base (an invoice of credits) has negative tax: a credit
    carries its share of the tax that was charged."""
    lines = list(lines)
    base = sum((line.amount for line in lines), Decimal(0))
    if rate is None or base == 0:
        return TaxResult(rate, base, Decimal(0), False, [(None, Decimal(0)) for _ in lines])
    r = rate.rate / 100
    if rate.inclusive:
        total = round_money(base - base / (1 + r), currency)
        per_line: list[tuple[Decimal | None, Decimal]] = [
            (rate.rate, round_money(line.amount - line.amount / (1 + r), currency))
            for line in lines]
    else:
        total = round_money(base * r, currency)
        per_line = [(rate.rate, round_money(line.amount * r, currency)) for line in lines]
    return TaxResult(rate, base, total, rate.inclusive, per_line)


def is_inclusive(invoice: Invoice) -> bool:
    return invoice.tax_total != 0 and invoice.total == invoice.subtotal


# --- Writes: the one place tax rates are validated and saved (API and dashboard alike) --------

TAX_RATE_FIELDS = ("name", "country", "region", "rate", "inclusive", "active")


def _checked(rate: TaxRate) -> TaxRate:
    errors: dict[str, list[ValidationError]] = {}
    rate.name = str(rate.name or "").strip()
    if not rate.name or len(rate.name) > 100:
        errors["name"] = [ValidationError("A name of 1 to 100 characters, e.g. \"VAT\".",
                                          code="invalid_name")]
    try:
        rate.country = bounds.country_code(str(rate.country or ""))
        if not rate.country:
            errors["country"] = [ValidationError(
                "Required: an ISO 3166-1 country code (e.g. US, FR, DE).", code="required")]
    except bounds.BoundError as error:
        errors["country"] = [ValidationError(str(error), code="invalid_country")]
    rate.region = str(rate.region or "").strip()
    if len(rate.region) > 100:
        errors["region"] = [ValidationError("At most 100 characters.", code="max_length")]
    try:
        rate.rate = bounds.percent(rate.rate)
    except bounds.BoundError as error:
        errors["rate"] = [ValidationError(f"A percentage: {error}.", code="out_of_bounds")]
    for name in ("name", "region"):
        problem = bounds.text_problem(getattr(rate, name))
        if problem:
            errors[name] = [ValidationError(problem, code="invalid_text")]
    if errors:
        raise ValidationError(errors)
    return rate


@transaction.atomic
def tax_rate_create(*, organization: Organization, name: str, country: str, rate: Decimal,
                    region: str = "", inclusive: bool = False, active: bool = True) -> TaxRate:
    """A tax rate for a country (and region): 0 to 100 percent, an ISO 3166-1 country."""
    tax_rate = _checked(TaxRate(organization=organization, name=name, country=country,
                                region=region, rate=rate, inclusive=inclusive, active=active))
    tax_rate.save()
    return tax_rate


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, **fields: Any) -> TaxRate:
    """Change a rate's fields (any of ``TAX_RATE_FIELDS``). Invoices already finalized keep the
    tax they were issued with."""
    tax_rate = (TaxRate.objects.for_organization(tax_rate.organization).select_for_update()
                .get(pk=tax_rate.pk))
    for name, value in fields.items():
        if name in TAX_RATE_FIELDS:
            setattr(tax_rate, name, value)
    _checked(tax_rate).save()
    return tax_rate


@transaction.atomic
def tax_rate_delete(*, tax_rate: TaxRate) -> None:
    TaxRate.objects.for_organization(tax_rate.organization).filter(pk=tax_rate.pk).delete()
