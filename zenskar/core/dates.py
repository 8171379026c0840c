"""The calendar day in a time zone: what a contract, a customer or an organization calls
"today" (billing dates, issue dates, posting dates are days in their owner's zone)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone


def local_date(time_zone: str, at: datetime | None = None) -> date:
    """The day ``at`` (default: now) falls on in ``time_zone`` (an IANA name)."""
    return (at or timezone.now()).astimezone(ZoneInfo(time_zone)).date()


def end_of_day(day: date | None, time_zone: str) -> datetime | None:
    """The instant ``day`` ends in ``time_zone`` (the next day's midnight there): what "through
    this day" means for a deadline a person picks as a date. None for no day."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(time_zone))
