"""How amounts, quantities, dates, instants and durations are written for people: the one kit.

Every surface writes through these functions, so one value reads the same everywhere: the
dashboard (the template filters of ``zenskar.dashboard.templatetags.kit``), the invoice and
credit-note templates (the sandbox's ``money``, ``quantity``, ``date`` and ``date_range``
filters), the e-mails and the hosted checkout.

==================  =================================  ======================================
function            writes                             for example (``en_US``)
==================  =================================  ======================================
``format_money``    an amount, rounded half-up to the  ``$1,234.50``, ``¥1,235``; with
                    currency (:mod:`zenskar.money`)    ``exact=True`` a unit price keeps its
                                                       digits: ``$0.002``
``format_quantity`` a number of units: no trailing     ``250,000``, ``1,234.5``, ``0.002``
                    zeros, grouped
``format_date``     a calendar day                     ``2026-03-01`` (``iso``), ``Mar 1,
                                                       2026`` (``medium``), ``March 1, 2026``
``format_period``   two days                           ``2026-03-01 → 2026-04-01``,
                                                       ``Mar 1 – Apr 1, 2026``
``format_datetime`` an instant, in a given time zone   ``2026-03-01 14:05`` (``iso``)
``format_duration`` a length of time                   ``3 days``, ``2 h 5 min``, ``45 s``
==================  =================================  ======================================

Pure: no Django, no database. Numbers are ``Decimal``, ``int`` or a decimal string; a
``float`` raises ``TypeError`` (it has already lost the exact value), as in
:mod:`zenskar.money`. Instants must be aware datetimes. The dashboard writes ``iso`` days
and instants (sortable, the same in every country); documents for a customer write the
customer's locale.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, localcontext
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from zenskar import money
from zenskar.money import as_decimal

__all__ = ["DEFAULT_LOCALE", "format_date", "format_datetime", "format_duration",
           "format_money", "format_period", "format_quantity"]

DEFAULT_LOCALE = "en_US"
# Babel's own style names; any other string is a CLDR pattern (dates) or skeleton (periods).
_STYLES = ("short", "medium", "long", "full")
_SKELETONS = {"short": "yMd", "medium": "yMMMd", "long": "yMMMMd", "full": "yMMMMEEEEd"}


def _digits(number: Decimal) -> int:
    """Enough decimal precision to hold ``number`` written out in full (Babel quantizes in
    the current context: 28 digits by default, too few for 1E+30 or 30-digit amounts)."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # a finite number: as_decimal refused NaN and infinity
    return len(digits) + abs(exponent) + 12  # and room for the pattern's own decimals


def _plain(number: Decimal) -> Decimal:
    """``number`` without trailing zeros and never an exponent nor a negative zero."""
    with localcontext() as context:
        context.prec = max(context.prec, _digits(number))
        number = number.normalize()
        if number.is_zero():
            return Decimal(0)
        return number.quantize(Decimal(1)) if number == number.to_integral() else number


def format_money(amount: Decimal | int | str, currency: str, locale: str = DEFAULT_LOCALE, *,
                 exact: bool = False) -> str:
    """``amount`` in ``currency`` for people: ``"$1,234.50"``, ``"1.234,50 €"``.

    Rounded half-up to the currency's minor unit by :func:`zenskar.money.format_money` -- the
    value an invoice line holds. With ``exact=True`` (a unit price) every significant digit
    is kept, never fewer than the currency's: ``"$0.002"``, ``"$12.00"``.
    """
    value = as_decimal(amount)
    if exact:
        plain = _plain(value)
        exponent = plain.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > money.minor_units(currency):  # more digits than the currency has
            with localcontext() as context:
                context.prec = max(context.prec, _digits(plain))
                return babel_numbers.format_currency(plain, currency, locale=locale,
                                                     decimal_quantization=False)
    return money.format_money(value, currency, locale)


def format_quantity(value: Decimal | int | str, locale: str = DEFAULT_LOCALE, *,
                    max_decimals: int | None = None, grouping: bool = True) -> str:
    """A number of units: ``Decimal("25.0000000000")`` -> ``"25"``, ``"1234.5"`` ->
    ``"1,234.5"``, ``"0.002"`` -> ``"0.002"``.

    Trailing zeros go; ``max_decimals`` rounds half-up first (an average: at most 6);
    ``grouping=False`` leaves out the thousands separator (the value of a form input).
    """
    number = as_decimal(value, field="quantity")
    if max_decimals is not None:
        with localcontext() as context:
            context.prec = max(context.prec, _digits(number) + max_decimals)
            number = number.quantize(Decimal(1).scaleb(-max_decimals), rounding=ROUND_HALF_UP)
    number = _plain(number)
    with localcontext() as context:
        context.prec = max(context.prec, _digits(number))
        return babel_numbers.format_decimal(number, locale=locale, decimal_quantization=False,
                                            group_separator=grouping)


def format_date(value: dt.date, *, locale: str = DEFAULT_LOCALE, style: str = "medium") -> str:
    """A calendar day: ``style`` ``"iso"`` -> ``"2026-03-01"``; ``"short"``, ``"medium"``
    (``"Mar 1, 2026"``), ``"long"`` (``"March 1, 2026"``), ``"full"``, or a CLDR pattern,
    in ``locale``.

    A ``datetime`` is refused: which day an instant falls on depends on a time zone, so
    convert it first (or use :func:`format_datetime`).
    """
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"a date is needed, not {type(value).__name__}")
    if style == "iso":
        return value.isoformat()
    return babel_dates.format_date(value, format=style, locale=locale)


def format_period(start: dt.date, end: dt.date | None, *, locale: str = DEFAULT_LOCALE,
                  style: str = "medium") -> str:
    """Two days, as a period: ``"iso"`` -> ``"2026-03-01 → 2026-04-01"``; ``"medium"`` ->
    ``"Mar 1 – Apr 1, 2026"`` (Babel's interval, what is shared written once); ``"short"``,
    ``"long"``, ``"full"`` or a CLDR skeleton. Without ``end``: ``start`` alone.

    The days are printed as given; a half-open period's ``end`` is its first day not covered.
    """
    if end is None:
        return format_date(start, locale=locale, style="iso" if style == "iso" else "medium")
    if style == "iso":
        return f"{format_date(start, style='iso')} → {format_date(end, style='iso')}"
    for day in (start, end):
        format_date(day, style="iso")  # the same refusal of a datetime
    return babel_dates.format_interval(start, end, _SKELETONS.get(style, style), locale=locale)


def format_datetime(value: dt.datetime, zone: str | dt.tzinfo = "UTC", *,
                    locale: str = DEFAULT_LOCALE, style: str = "iso",
                    seconds: bool = False) -> str:
    """An instant, as the clock in ``zone`` shows it: ``"iso"`` -> ``"2026-03-01 14:05"``
    (``"14:05:07"`` with ``seconds``); ``"short"``, ``"medium"``, ``"long"``, ``"full"`` or a
    CLDR pattern in ``locale``. A naive datetime raises ``ValueError``: it is no instant.
    """
    if not isinstance(value, dt.datetime):
        raise TypeError(f"a datetime is needed, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a naive datetime is no instant: give it a time zone")
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    if style == "iso":
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds
                                             else "%Y-%m-%d %H:%M")
    return babel_dates.format_datetime(value, format=style, tzinfo=tz, locale=locale)


_UNITS = (("day", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def format_duration(value: dt.timedelta | int) -> str:
    """A length of time, exactly, in its non-zero units: ``"3 days"``, ``"1 day"``,
    ``"2 h 5 min"``, ``"1 day 30 s"``, ``"0 s"``. An ``int`` is seconds; what is under a
    second is left out. Negative durations raise ``ValueError``.
    """
    if isinstance(value, bool) or not isinstance(value, dt.timedelta | int):
        raise TypeError(f"a timedelta or whole seconds are needed, not {type(value).__name__}")
    seconds = value if isinstance(value, int) else value // dt.timedelta(seconds=1)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}")
    return " ".join(parts) or "0 s"
