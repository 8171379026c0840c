"""Currencies, minor units, rounding and formatting: the one money module.

Rules this module enforces (see DESIGN.md, "Money"):

* Amounts are ``Decimal``. A ``float`` anywhere is rejected with ``TypeError``: a binary
  float cannot hold 0.1 exactly, and a billing error of a fraction of a cent repeated over
  a million lines is a real error.
* Unit prices and intermediate amounts keep their full precision. Only a line amount is
  rounded, once, by :func:`round_money` -- the single named place where money is rounded.
* Rounding is ``ROUND_HALF_UP`` to the currency's ISO 4217 exponent (JPY 0, USD 2, KWD 3),
  taken from CLDR through Babel. For negative amounts half-up rounds away from zero
  (-1.005 USD -> -1.01), so a credit is always the exact mirror of the charge it reverses.
* Amounts of two currencies are never added: :class:`Money` raises
  :class:`CurrencyMismatchError` instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, is_currency

__all__ = [
    "CurrencyMismatchError",
    "Money",
    "as_decimal",
    "format_money",
    "is_valid_currency",
    "minor_units",
    "round_money",
]


class CurrencyMismatchError(ValueError):
    """Two amounts of different currencies met in one operation."""


def as_decimal(value: Decimal | int | str, *, field: str = "amount") -> Decimal:
    """Return ``value`` as a finite ``Decimal``, exactly.

    Accepts ``Decimal``, ``int`` and decimal strings (``"0.10"``). Raises ``TypeError`` for
    ``float`` and ``bool`` (a float has already lost the exact value; a bool is a bug), and
    ``ValueError`` for text that is not a number or for NaN / infinity.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{field} must be a Decimal, int or str, not {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field} is not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{field} must be finite, got {value!r}")
    return result


def is_valid_currency(code: str) -> bool:
    """True when ``code`` is an upper-case ISO 4217 code known to CLDR (``"USD"``, not ``"usd"``)."""
    return isinstance(code, str) and len(code) == 3 and code.isupper() and is_currency(code)


def _check_currency(code: str) -> str:
    if not is_valid_currency(code):
        raise ValueError(f"unknown currency code {code!r}; expected an ISO 4217 code like 'USD'")
    return code


@functools.lru_cache(maxsize=512)
def minor_units(code: str) -> int:
    """The number of decimal places of ``code``'s minor unit: JPY 0, USD 2, KWD 3.

    Raises ``ValueError`` for an unknown code (Babel itself would silently answer 2).
    """
    return get_currency_precision(_check_currency(code))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` half-up to ``currency``'s minor unit; THE place amounts are rounded.

    Guarantees: the result has exactly ``minor_units(currency)`` decimal places, ties go
    away from zero, and a zero result is never negative zero (``-0.00`` would print oddly
    on an invoice).
    """
    value = _strict_decimal(amount, field="amount")
    exponent = Decimal((0, (1,), -minor_units(currency)))
    rounded = value.quantize(exponent, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def format_money(amount: Decimal, currency: str, locale: str = "en_US") -> str:
    """Render ``amount`` for people, e.g. ``"$1,234.50"``, ``"¥1,235"``, ``"1.234,50 $"``.

    The amount is first rounded by :func:`round_money`, so the text always shows the same
    value an invoice line would hold (Babel alone would round half-even).
    """
    rounded = round_money(amount, currency)
    return format_currency(rounded, currency, locale=locale, currency_digits=True)


def _strict_decimal(value: object, *, field: str) -> Decimal:
    # Rounding and Money accept Decimal (and int, which is exact) but never float or str:
    # a str here usually means unparsed input reached the arithmetic.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{field} must be a Decimal, not {type(value).__name__}")
    return as_decimal(value, field=field)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Immutable; arithmetic only within one currency.

    ``amount`` keeps full precision; call :meth:`rounded` for the invoice-ready value.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _strict_decimal(self.amount, field="amount"))
        _check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``, the start value for summing lines."""
        return cls(Decimal(0), currency)

    def rounded(self) -> Money:
        """This amount rounded by :func:`round_money` to the currency's minor unit."""
        return Money(round_money(self.amount, self.currency), self.currency)

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form: the amount as a decimal string (never a float) and the currency."""
        return {"amount": format(self.amount, "f"), "currency": self.currency}

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} and {other.currency} amounts"
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)
