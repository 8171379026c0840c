"""Checking one usage event as sent. Pure: no Django.

``check_event`` returns the event's values, or why it is refused, by field
(``{"timestamp": ["is more than 5 minutes in the future"]}``) -- each event of a batch is
judged on its own, and the reasons go back to the sender by the event's index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

MAX_EVENT_BYTES = 32 * 1024
MAX_ID_LENGTH = 255
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    event_id: str
    customer: str
    event_name: str
    timestamp: datetime
    properties_json: str


Reasons = dict[str, list[str]]


def _text(event: dict, key: str, reasons: Reasons) -> str:
    value = event.get(key)
    problem = None
    if value is None or value == "":
        problem = "is required"
    elif not isinstance(value, str):
        problem = "must be a string"
    elif len(value) > MAX_ID_LENGTH:
        problem = f"must be at most {MAX_ID_LENGTH} characters"
    elif "\x00" in value:
        problem = "must not contain the NUL character"
    if problem:
        reasons.setdefault(key, []).append(problem)
        return ""
    return value


def parse_timestamp(value: Any) -> datetime | str:
    """An aware datetime, or the reason the value is not one."""
    if not isinstance(value, str):
        return "must be an ISO 8601 string such as 2026-11-27T10:00:00Z"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"{value[:40]!r} is not an ISO 8601 date and time"
    if parsed.tzinfo is None:
        return "must include a time zone (Z or an offset such as +01:00)"
    return parsed


def check_event(event: Any, *, now: datetime, window: timedelta) -> CheckedEvent | Reasons:
    if not isinstance(event, dict):
        return {"event": ["must be a JSON object"]}
    reasons: Reasons = {}
    event_id = _text(event, "event_id", reasons)
    customer = _text(event, "customer", reasons)
    event_name = _text(event, "event_name", reasons)
    timestamp = None
    problem = None
    if event.get("timestamp") is None:
        problem = "is required"
    else:
        parsed = parse_timestamp(event["timestamp"])
        if isinstance(parsed, str):
            problem = parsed
        elif parsed > now + FUTURE_TOLERANCE:
            problem = "is more than 5 minutes in the future"
        elif parsed < now - window:
            problem = f"is older than the accepted window of {window.days} days"
        else:
            timestamp = parsed
    if problem:
        reasons["timestamp"] = [problem]
    properties = event.get("properties", {})
    properties_json = "{}"
    problem = None
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        problem = "must be a JSON object"
    else:
        try:
            properties_json = orjson.dumps(properties).decode()
        except (TypeError, orjson.JSONEncodeError):
            problem = "must be plain JSON"
        if "\\u0000" in properties_json:
            problem = "must not contain the NUL character (PostgreSQL refuses it)"
        elif len(properties_json) > MAX_EVENT_BYTES:
            problem = f"are larger than {MAX_EVENT_BYTES // 1024} KiB"
    if problem:
        reasons["properties"] = [problem]
    if reasons:
        return reasons
    return CheckedEvent(event_id, customer, event_name, timestamp, properties_json)
