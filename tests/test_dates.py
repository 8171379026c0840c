"""Days in a time zone (zenskar.core.dates): "today" and "through this day"."""

from __future__ import annotations

from datetime import UTC, date, datetime

from zenskar.core.dates import end_of_day, local_date


def test_today_is_the_day_in_the_zone():
    # 23:30 UTC on 31 Dec is already 1 Jan in Berlin (UTC+1) and still 31 Dec in New York
    at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert local_date("Europe/Berlin", at) == date(2027, 1, 1)
    assert local_date("America/New_York", at) == date(2026, 12, 31)


def test_through_a_day_ends_at_the_next_midnight_there():
    # Berlin moves to summer time in the night of 28-29 March 2026: 29 March's midnight is
    # still winter time (UTC+1), so the 28th ends at 23:00 UTC
    assert end_of_day(date(2026, 3, 28), "Europe/Berlin") == datetime(2026, 3, 28, 23,
                                                                       tzinfo=UTC)
    # 29 March ends at 30 March 00:00 summer time (UTC+2): 22:00 UTC
    assert end_of_day(date(2026, 3, 29), "Europe/Berlin") == datetime(2026, 3, 29, 22,
                                                                       tzinfo=UTC)
    assert end_of_day(None, "Europe/Berlin") is None
