"""The bounds of every input, in one place: what a request may carry, checked at the door.

Anything outside these bounds is refused with a 4xx that names the field and the bound, before
any work is done (README.md, "Bounds", lists them for API users):

=====================  ===========================================================================
what                   bound
=====================  ===========================================================================
money amounts          0 to ``MAX_AMOUNT`` (one trillion) in the currency, at most 4 decimals
                       (payments, refunds, credit notes, credit grants, checkout amounts)
prices, quantities     every number of a price (unit prices, fees, tier bounds, minimums,
                       commitments) and every quantity: at most ``MAX_PRICE_NUMBER`` (10^15)
                       either way, at most 10 decimals
a line's amount        quantity x unit price, and every rated line: at most ``MAX_AMOUNT``
                       (a one-off line is refused at the door; a contract whose usage rates
                       beyond it is recorded as one that could not be billed)
percentages            0 to 100 (tax rates, percentage discounts), at most 4 decimals
dates                  ``MIN_DATE`` (1970-01-01) to ``MAX_DATE`` (2200-12-31), times likewise
text                   no NUL character, no lone UTF-16 surrogate; each field its own length
JSON bodies            nested at most ``MAX_JSON_DEPTH`` levels; no NaN or Infinity
request bodies         ``API_MAX_BODY_BYTES`` (1 MiB), usage-event batches ``EVENTS_MAX_BODY_BYTES``
=====================  ===========================================================================

Pure: no Django. Each check returns the clean value or raises :class:`BoundError` with words
for people and a machine code (``out_of_bounds`` unless a more precise one fits).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_AMOUNT = Decimal("1000000000000")  # 10^12; the amount columns (20,4) hold 10^16
MAX_PRICE_NUMBER = Decimal("1000000000000000")  # 10^15; the price columns (30,10) hold 10^20
AMOUNT_DECIMALS = 4
PRICE_DECIMALS = 10
MAX_PERCENT = Decimal(100)
MIN_DATE = dt.date(1970, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
MAX_JSON_DEPTH = 32
MAX_NUMBER_TEXT = 60  # characters of one number written as text


class BoundError(ValueError):
    """A value outside its documented bound; ``str()`` says which bound, ``code`` names the
    kind of problem for machines (the API's ``codes``)."""

    def __init__(self, message: str, *, code: str = "out_of_bounds") -> None:
        super().__init__(message)
        self.code = code


def decimal_in_bounds(value: Any, *, maximum: Decimal, decimals: int, minimum: Decimal = Decimal(0),
                      allow_negative: bool = False) -> Decimal:
    """``value`` (a Decimal, int or decimal string) as a finite Decimal within
    [``minimum`` (or -``maximum`` when negatives are allowed), ``maximum``] with at most
    ``decimals`` places."""
    if isinstance(value, bool) or isinstance(value, float):
        raise BoundError('must be a decimal string such as "12.50"', code="not_a_number")
    if isinstance(value, str) and len(value) > MAX_NUMBER_TEXT:
        raise BoundError(f"must be a number of at most {MAX_NUMBER_TEXT} characters",
                         code="max_length")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BoundError(f"{str(value)[:40]!r} is not a number", code="not_a_number") from None
    if not number.is_finite():
        raise BoundError("must be a finite number (not NaN or Infinity)")
    low = -maximum if allow_negative else minimum
    if number < low or number > maximum:
        raise BoundError(f"must be between {_plain(low)} and {_plain(maximum)}")
    if number != number.quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_DOWN"):
        raise BoundError(f"must have at most {decimals} decimal places", code="too_many_decimals")
    return number


def amount(value: Any, *, allow_negative: bool = False) -> Decimal:
    return decimal_in_bounds(value, maximum=MAX_AMOUNT, decimals=AMOUNT_DECIMALS,
                             allow_negative=allow_negative)


def price_number(value: Any, *, allow_negative: bool = False) -> Decimal:
    """A unit price, a quantity, a tier bound: any number of a price."""
    return decimal_in_bounds(value, maximum=MAX_PRICE_NUMBER, decimals=PRICE_DECIMALS,
                             allow_negative=allow_negative)


unit_price = quantity = price_number


def percent(value: Any) -> Decimal:
    return decimal_in_bounds(value, maximum=MAX_PERCENT, decimals=4)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """quantity x unit price, refused when it is beyond what a line may hold."""
    product = quantity * unit_price
    if abs(product) > MAX_AMOUNT:
        raise BoundError(f"quantity x unit price must be at most {_plain(MAX_AMOUNT)}")
    return product


def check_line_amount(amount: Decimal) -> Decimal:
    """A rated line's amount, refused when beyond ``MAX_AMOUNT``: the amount columns would
    overflow, and no real invoice line is a trillion."""
    if abs(amount) > MAX_AMOUNT:
        raise BoundError(f"the line amount {_plain(amount)[:40]} is beyond the "
                         f"{_plain(MAX_AMOUNT)} a line may hold")
    return amount


MAX_RATED_QUANTITY = Decimal(10) ** 19  # a metered quantity on a line: the column holds 10^20


def check_rated_quantity(quantity: Decimal | None) -> Decimal | None:
    """A metered quantity (usage can pass 10^15: bytes, tokens), refused when beyond what
    a line's quantity column holds."""
    if quantity is not None and abs(quantity) >= MAX_RATED_QUANTITY:
        raise BoundError(f"the quantity {_plain(quantity)[:40]} is beyond the 10^19 a line "
                         "may hold")
    return quantity


def date_in_bounds(value: dt.date) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not MIN_DATE <= day <= MAX_DATE:
        raise BoundError(f"must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}")
    return value


# Territories CLDR knows that ISO 3166-1 does not assign to a country ("ZZ" is "unknown",
# AC..TA are only reserved).
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB",  # groups, pseudo
                            "AC", "CP", "CQ", "DG", "EA", "IC", "TA"})  # reserved, not assigned


@functools.cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (with XK, Kosovo, as payment networks use it)."""
    from babel import Locale

    return frozenset(code for code in Locale("en").territories if isinstance(code, str)
                     and len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


def country_code(value: str) -> str:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code ("" stays ""), or BoundError."""
    code = (value or "").strip().upper()
    if code and code not in country_codes():
        raise BoundError(f"{value[:10]!r} is not an ISO 3166-1 country code (e.g. US, FR, DE)",
                         code="invalid_country")
    return code


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain a lone UTF-16 surrogate"
    return None


def json_problems(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, str]:
    """Every place in a parsed JSON document that breaks the bounds: ``{"a.b[2]": why}``
    (the root is ``""``). Walks iteratively: a deep document cannot exhaust the stack."""
    return {path: why for path, (why, _) in coded_json_problems(value, max_depth=max_depth).items()}


def coded_json_problems(value: Any, *,
                        max_depth: int = MAX_JSON_DEPTH) -> dict[str, tuple[str, str]]:
    """:func:`json_problems` with each problem's machine code: ``{"a.b[2]": (why, code)}``,
    the code ``invalid_text`` (a NUL, a lone surrogate) or ``out_of_bounds`` (NaN, nesting)."""
    problems: dict[str, tuple[str, str]] = {}
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack and len(problems) < 20:
        item, path, depth = stack.pop()
        if depth > max_depth:
            problems[path] = (f"is nested deeper than {max_depth} levels", "out_of_bounds")
            continue
        if isinstance(item, str):
            why = text_problem(item)
            if why:
                problems[path] = (why, "invalid_text")
        elif isinstance(item, Decimal) and not item.is_finite():
            problems[path] = ("must be a finite number (not NaN or Infinity)", "out_of_bounds")
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                why = text_problem(str(key))
                if why:
                    problems[path or "(body)"] = (f"a key {why}", "invalid_text")
                    continue
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                stack.append((child, f"{path}[{index}]", depth + 1))
    return problems


def _plain(number: Decimal) -> str:
    return f"{number:,f}".replace(",", "")
