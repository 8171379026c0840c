"""The one error type of the billing schedule, and the checks shared by its modules.

Every check raises `ScheduleError` naming the offending field, so an API layer can turn
it into a 4xx body of the shape `{field: message}` without parsing text.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ScheduleError(ValueError):
    """Invalid schedule input. `field` names the input at fault (e.g. `anchor.day`)."""

    def __init__(self, *, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def resolve_tz(tz: str | ZoneInfo, *, field: str = "tz") -> ZoneInfo:
    """Return the IANA zone named `tz` (a `ZoneInfo` is returned as is).

    Raises `ScheduleError(field=field)` for a name the system's zone database lacks,
    rather than letting zoneinfo's `KeyError`/`ValueError` escape as a 5xx.
    """
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ScheduleError(field=field, message=f"unknown time zone {tz!r}") from exc


def validate_term(*, start: date, end: date | None) -> None:
    """Check that a contract term `[start, end)` is not empty; `end=None` is evergreen."""
    if end is not None and end <= start:
        raise ScheduleError(field="end", message=f"must be after start {start}, got {end}")
