"""How the invoicing pages write amounts, quantities, prices, instants and an amount's
derivation for people."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

from invoicing.models import (
    InvoiceLine,
)
from zenskar import money
from zenskar.formatting import format_datetime, format_money, format_quantity

KIND_LABELS = dict(InvoiceLine.Kind.choices)
NOTHING = "—"


def _decimal(value) -> Decimal:
    """A number as stored: a Decimal column, or a derivation's JSON value (a decimal string;
    a number written by hand reads as its shortest text)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))

def quantity_text(value) -> str:
    """``"25.0000000000"`` -> ``25``, ``"1234.5"`` -> ``1,234.5``; None -> ``—``."""
    return NOTHING if value is None or value == "" else format_quantity(_decimal(value))

def input_number(value: Decimal) -> str:
    """For an input: ``25.0000000000`` -> ``25``, never an exponent nor a separator."""
    return format_quantity(value, grouping=False)

def _detail(value) -> str:
    """An audit detail: a decimal without its trailing zeros, anything else as it is."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d+", value):
        return input_number(Decimal(value))
    return str(value)

def price_text(value, currency: str) -> str:
    """A unit price with every digit it has, never fewer than the currency's: ``$0.002``."""
    if value is None or value == "":
        return NOTHING
    return format_money(_decimal(value), currency, exact=True)

def _instant(text: str) -> str:
    moment = datetime.fromisoformat(text)
    return format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

_SHOWN = {"steps", "meter", "usage_window", "usage_quantity", "share", "override", "model",
          "nominal_start", "nominal_end", "key", "manual", "by", "unrounded_amount",
          "explanation", "default_price"}


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
        # the rule in words (a price per transaction, a matrix's default price)
        "explanation": d.get("explanation") if isinstance(d.get("explanation"), str) else "",
        "steps": [{"description": step.get("description", ""),
                   "quantity": quantity_text(step.get("quantity")),
                   "unit_price": price_text(step.get("unit_price"), currency),
                   "amount": price_text(step.get("amount"), currency)}
                  for step in d.get("steps") or [] if isinstance(step, dict)],
        "model": (d.get("model") or "").replace("_", " "),
        "meter": d.get("meter"),
        "usage_window": f"{_instant(window[0])} → {_instant(window[1])} UTC" if window else "",
        "usage_quantity": quantity_text(d["usage_quantity"]) if "usage_quantity" in d else "",
        "share": "" if share in ("", "1") else f"{share} of the period "
                 f"{d.get('nominal_start', '')} → {d.get('nominal_end', '')}",
        "unrounded": price_text(unrounded, currency) if unrounded is not None
        and unrounded != money.round_money(unrounded, currency) else "",
        "override": override and {
            "quantity": quantity_text(override.get("quantity")),
            "computed_quantity": quantity_text(override.get("computed_quantity")),
            "computed_amount": price_text(override.get("computed_amount"), currency)},
        "manual_by": d.get("by", "") if d.get("manual") else "",
        "other": [(name.replace("_", " "), value if isinstance(value, str) else
                   json.dumps(value, ensure_ascii=False))
                  for name, value in d.items() if name not in _SHOWN],
    }
