"""Validation helpers shared by the spec dataclasses; every failure names its field."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from zenskar import bounds
from zenskar.formatting import format_money
from zenskar.money import is_valid_currency

from .errors import PricingError, PricingTypeError


def set_attr(obj: object, name: str, value: object) -> None:
    """Store a normalized value on a frozen dataclass during ``__post_init__``."""
    object.__setattr__(obj, name, value)


def decimal_value(value: object, *, field: str, positive: bool = False) -> Decimal:
    """``value`` as a finite, non-negative ``Decimal`` (strictly positive if asked).

    ``int`` is accepted (it is exact); ``float``, ``bool`` and ``str`` are not.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise PricingTypeError(
            field=field, message=f"must be a Decimal, not {type(value).__name__}"
        )
    number = Decimal(value)
    if not number.is_finite():
        raise PricingError(field=field, message="must be a finite number", code="out_of_bounds")
    try:  # every number of a price fits the price columns (zenskar/bounds.py)
        bounds.decimal_in_bounds(number, maximum=bounds.MAX_PRICE_NUMBER,
                                 decimals=bounds.PRICE_DECIMALS, allow_negative=True)
    except bounds.BoundError as error:
        raise PricingError(field=field, message=str(error), code=error.code) from None
    if positive and number <= 0:
        raise PricingError(field=field, message="must be greater than 0", code="not_positive")
    if number < 0:
        raise PricingError(field=field, message="must not be negative", code="out_of_bounds")
    return number


def optional_decimal(value: object, *, field: str, positive: bool = False) -> Decimal | None:
    """Like :func:`decimal_value`, but ``None`` passes through (meaning "not set")."""
    return None if value is None else decimal_value(value, field=field, positive=positive)


def currency_code(code: object, *, field: str = "currency") -> str:
    """``code`` if it is an upper-case ISO 4217 code."""
    if not isinstance(code, str) or not is_valid_currency(code):
        raise PricingError(field=field, message=f"unknown currency code {code!r}",
                           code="invalid_currency")
    return code


def share_value(share: object, *, field: str = "share") -> Fraction:
    """A share of a billing period: a ``Fraction`` (or int) between 0 and 1 inclusive."""
    if isinstance(share, bool) or not isinstance(share, Fraction | int):
        raise PricingTypeError(
            field=field, message=f"must be a fractions.Fraction, not {type(share).__name__}"
        )
    value = Fraction(share)
    if not 0 <= value <= 1:
        raise PricingError(field=field, message="must be between 0 and 1 (1 = the whole period)",
                           code="out_of_bounds")
    return value


def scale(amount: Decimal, share: Fraction) -> Decimal:
    """``amount * share`` with the share kept exact until the single division."""
    if share == 1:
        return amount
    return amount * share.numerator / share.denominator


def plain(value: Decimal) -> str:
    """A decimal as plain text, never in exponent form (``1E+2`` -> ``"100"``): the value a
    derivation records."""
    return format(value, "f")


def figure(value: Decimal) -> str:
    """A number in a step's description, for people: grouped, never in exponent form, every
    digit kept (``Decimal("50000")`` -> ``"50,000"``, ``"0.002"`` -> ``"0.002"``)."""
    return format(value, ",f")


def money_figure(value: Decimal, currency: str) -> str:
    """An amount in a step's description, with its currency and every digit kept:
    ``"$5,000.00"``, ``"€0.002"`` (the platform's one money formatter)."""
    return format_money(value, currency, exact=True)
