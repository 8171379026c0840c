"""How the usage pages write quantities, filters, properties and a meter's definition for
people."""

from __future__ import annotations

import json
from decimal import Decimal

from metering.models import Meter
from zenskar.formatting import format_quantity

# Aggregations whose value over no events is 0 (the others have no value).
ZERO_WHEN_EMPTY = {Meter.Aggregation.COUNT, Meter.Aggregation.SUM,
                   Meter.Aggregation.UNIQUE_COUNT, Meter.Aggregation.WEIGHTED_SUM}

def quantity_text(value: Decimal | None) -> str:
    """``Decimal("1234.5000")`` -> ``1,234.5``; at most 6 decimals (averages); None -> ``—``."""
    return "—" if value is None else format_quantity(value, max_decimals=6)

def filter_text(rule: dict) -> str:
    op = {"equals": "=", "in": "in", "not_in": "not in"}.get(rule.get("op"), rule.get("op"))
    return f"{rule.get('property')} {op} {json.dumps(rule.get('value'), ensure_ascii=False)}"

def properties_text(properties: dict, limit: int = 90) -> str:
    """``{"tokens": 12, "region": "eu"}`` -> ``tokens=12 region=eu``, cut at ``limit``."""
    parts = []
    for key, value in (properties or {}).items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"

_SUMMARY = {
    Meter.Aggregation.COUNT: "Counts events",
    Meter.Aggregation.SUM: "Sums {value} over events",
    Meter.Aggregation.MAX: "Takes the largest {value} of events",
    Meter.Aggregation.MIN: "Takes the smallest {value} of events",
    Meter.Aggregation.UNIQUE_COUNT: "Counts the distinct values of {value} in events",
    Meter.Aggregation.LATEST: "Takes the latest {value} of events",
    Meter.Aggregation.AVERAGE: "Averages {value} over events",
    Meter.Aggregation.WEIGHTED_SUM: "Weighs each level of {value} by the share of the period "
                                    "it held, in events",
}

def meter_summary(meter: Meter) -> str:
    """What the meter computes, in one sentence."""
    text = _SUMMARY[meter.aggregation].format(value=meter.value_property or "?")
    if meter.recurring and meter.aggregation == Meter.Aggregation.SUM:
        text = f"Keeps the running total of {meter.value_property or '?'} at the period's end"
        text += " (it carries over between periods), in events"
    text += f" named “{meter.event_name}”"
    if meter.filters:
        text += " where " + " and ".join(filter_text(rule) for rule in meter.filters)
    if meter.group_by:
        text += ", by " + ", ".join(meter.group_by)
    return text + "."

def _json_text(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
