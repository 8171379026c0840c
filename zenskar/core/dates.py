"""The calendar day in a time zone: what a contract, a customer or an organization calls
"today" (billing dates, issue dates, posting dates are days in their owner's zone)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone


def local_date(time_zone: str, at: datetime | None = None) -> date:
    """The day ``at`` (default: now) falls on in ``time_zone`` (an IANA name)."""
    return (at or timezone.now()).astimezone(ZoneInfo(time_zone)).date()
