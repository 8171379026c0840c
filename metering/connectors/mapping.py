"""Mapping a source row to a usage event. Pure: no Django, no database.

A mapping names the columns: ``{"event_id": "id" | ["account", "day"], "customer": "account",
"timestamp": "recorded_at", "event_name": "kind" | "event_name_value": "api_call",
"properties": {"calls": "calls", ...}}``. Nested fields of documents are read with dots
(``meta.region``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from datetime import time as clock
from typing import Any

from metering.connectors.base import MissingField, json_safe, lookup, to_utc

MAPPING_KEYS = {"event_id", "customer", "timestamp", "event_name", "event_name_value", "properties"}

Errors = dict[str, list[str]]


def mapping_errors(mapping: Mapping[str, Any]) -> Errors:
    """Why a mapping cannot work, by field (``mapping.customer``...); empty when it can."""
    errors: Errors = {}
    unknown = set(mapping) - MAPPING_KEYS
    if unknown:
        errors["mapping"] = [f"Unknown keys: {', '.join(sorted(unknown))}."]
    event_id = mapping.get("event_id")
    if not (isinstance(event_id, str) and event_id) and not (
        isinstance(event_id, list) and event_id and all(isinstance(c, str) and c for c in event_id)
    ):
        errors["mapping.event_id"] = [
            "Required: the column (or list of columns) that identify a row."
        ]
    for key in ("customer", "timestamp"):
        if not isinstance(mapping.get(key), str) or not mapping[key]:
            errors[f"mapping.{key}"] = ["Required: the column that holds it."]
    named = [key for key in ("event_name", "event_name_value") if mapping.get(key)]
    if len(named) != 1 or not isinstance(mapping[named[0]], str):
        errors["mapping.event_name"] = [
            "Give either event_name (a column) or event_name_value (a constant name), not both."
        ]
    properties = mapping.get("properties", {})
    if not isinstance(properties, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in properties.items()
    ):
        errors["mapping.properties"] = ["Must be an object of property names to column names."]
    return errors


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(json_safe(value))


def _instant(value: Any) -> str | None:
    """Aware UTC ISO 8601; naive values are taken to be UTC. None when not a date and time."""
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, date):
        return datetime.combine(value, clock(), tzinfo=UTC).isoformat()
    if isinstance(value, str):
        try:
            return to_utc(datetime.fromisoformat(value)).isoformat()
        except ValueError:
            return None
    return None


def map_row(
    *, source_id: Any, mapping: Mapping[str, Any], row: Mapping[str, Any]
) -> tuple[dict | None, Errors]:
    """``(event, {})``: the usage event a row stands for; or ``(None, errors)``: why it cannot
    be one, by field.

    The event id is ``"<source id>:<key column>[:<key column>...]"``: the same row always
    gives the same id, so reading it again is a duplicate, never a second event.
    """
    errors: Errors = {}

    def read(field: str, column: str) -> Any:
        try:
            value = lookup(row, column)
        except MissingField:
            errors.setdefault(field, []).append(f"the row has no column {column!r}")
            return None
        if value is None or value == "":
            errors.setdefault(field, []).append(f"column {column!r} is empty")
        return value

    columns = mapping["event_id"]
    columns = columns if isinstance(columns, list) else [columns]
    key = [read("event_id", column) for column in columns]
    customer = read("customer", mapping["customer"])
    raw_time = read("timestamp", mapping["timestamp"])
    if mapping.get("event_name_value"):
        event_name: Any = mapping["event_name_value"]
    else:
        event_name = read("event_name", mapping["event_name"])
    properties = {}
    for name, column in (mapping.get("properties") or {}).items():
        try:
            properties[name] = json_safe(lookup(row, column))
        except MissingField:
            errors.setdefault(f"properties.{name}", []).append(f"the row has no column {column!r}")
    timestamp = _instant(raw_time) if raw_time not in (None, "") else None
    if raw_time not in (None, "") and timestamp is None:
        errors.setdefault("timestamp", []).append(
            f"column {mapping['timestamp']!r} is not a date and time ({_text(raw_time)[:40]!r})"
        )
    if errors:
        return None, errors
    return {
        "event_id": ":".join([str(source_id), *(_text(part) for part in key)]),
        "customer": _text(customer),
        "event_name": _text(event_name),
        "timestamp": timestamp,
        "properties": properties,
    }, {}
