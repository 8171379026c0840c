"""How the invoicing pages write amounts, quantities, prices, instants and an amount's
derivation for people."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

from babel.numbers import format_currency

from invoicing.models import (
    InvoiceLine,
)
from zenskar import money

KIND_LABELS = dict(InvoiceLine.Kind.choices)


def _money(amount, currency: str) -> str:
    return money.format_money(Decimal(amount), currency)

def _number(value) -> str:
    """``"25.0000000000"`` -> ``25``, ``"1234.5"`` -> ``1,234.5``; None -> ``—``."""
    if value is None or value == "":
        return "—"
    number = Decimal(str(value)).normalize()
    return format(number.quantize(Decimal(1)) if number == number.to_integral() else number, ",f")

def _plain(value: Decimal) -> str:
    """For an input: ``25.0000000000`` -> ``25``, never an exponent."""
    number = value.normalize()
    return format(number.quantize(Decimal(1)) if number == number.to_integral() else number, "f")

def _detail(value) -> str:
    """An audit detail: a decimal without its trailing zeros, anything else as it is."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d+", value):
        return _plain(Decimal(value))
    return str(value)

def _price(value, currency: str) -> str:
    """A unit price with every digit it has, never fewer than the currency's: ``$0.002``."""
    if value is None or value == "":
        return "—"
    return format_currency(Decimal(str(value)).normalize(), currency, locale="en_US",
                           decimal_quantization=False)

def _instant(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M")

_SHOWN = {"steps", "meter", "usage_window", "usage_quantity", "share", "override", "model",
          "nominal_start", "nominal_end", "key", "manual", "by", "unrounded_amount"}


def derivation_view(derivation, currency: str) -> dict:
    """Why a line's amount is what it is: the pricing steps tier by tier, the meter and the
    usage window it read, the share of the period, a hand override, and whatever else the
    rating recorded."""
    d = derivation if isinstance(derivation, dict) else {}
    window = d.get("usage_window")
    override = d.get("override") or {}
    share = str(d.get("share") or "")
    unrounded = Decimal(str(d["unrounded_amount"])) if d.get("unrounded_amount") else None
    return {
        "steps": [{"description": step.get("description", ""),
                   "quantity": _number(step.get("quantity")),
                   "unit_price": _price(step.get("unit_price"), currency),
                   "amount": _price(step.get("amount"), currency)}
                  for step in d.get("steps") or [] if isinstance(step, dict)],
        "model": (d.get("model") or "").replace("_", " "),
        "meter": d.get("meter"),
        "usage_window": f"{_instant(window[0])} → {_instant(window[1])} UTC" if window else "",
        "usage_quantity": _number(d["usage_quantity"]) if "usage_quantity" in d else "",
        "share": "" if share in ("", "1") else f"{share} of the period "
                 f"{d.get('nominal_start', '')} → {d.get('nominal_end', '')}",
        "unrounded": _price(unrounded, currency) if unrounded is not None
        and unrounded != money.round_money(unrounded, currency) else "",
        "override": override and {
            "quantity": _number(override.get("quantity")),
            "computed_quantity": _number(override.get("computed_quantity")),
            "computed_amount": _price(override.get("computed_amount"), currency)},
        "manual_by": d.get("by", "") if d.get("manual") else "",
        "other": [(name.replace("_", " "), value if isinstance(value, str) else
                   json.dumps(value, ensure_ascii=False))
                  for name, value in d.items() if name not in _SHOWN],
    }
