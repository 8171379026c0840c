"""Metering on the home page (a panel of ``panels.HOME``): usage trends -- the events received
per day over the last 30 days for each meter (the events of its event name), one line each,
from one query grouped by event name and day in the organization's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from contracts.schedule import local_day_start_utc
from metering.models import Event, Meter
from zenskar.dashboard import overview
from zenskar.tenancy.models import Organization

DAYS = 30
METERS_SHOWN = 6  # the busiest meters get a line; the others are listed


@dataclass(frozen=True)
class MeterTrend:
    meter: Meter
    counts: list[int]  # events per day, one per day of the window, oldest first

    @property
    def total(self) -> int:
        return sum(self.counts)


def usage_trends(*, organization: Organization, today: date,
                 days: int = DAYS) -> tuple[list[date], list[MeterTrend]]:
    """The days ``[today - days + 1, today]`` and, for every meter, the events of its event
    name received for each of those days (by the event's timestamp, in the organization's
    time zone; a meter's filters are not applied: these are events, not quantities). The
    busiest meters first."""
    zone = ZoneInfo(organization.time_zone)
    first = today - timedelta(days=days - 1)
    window = [first + timedelta(days=i) for i in range(days)]
    meters = list(Meter.objects.for_organization(organization).order_by("name"))
    if not meters:
        return window, []
    rows = (Event.objects.for_organization(organization)
            .filter(event_name__in={m.event_name for m in meters},
                    timestamp__gte=local_day_start_utc(first, zone),
                    timestamp__lt=local_day_start_utc(today + timedelta(days=1), zone))
            .annotate(day=TruncDate("timestamp", tzinfo=zone))
            .order_by().values("event_name", "day").annotate(n=Count("id")))
    index = {day: i for i, day in enumerate(window)}
    per_name: dict[str, list[int]] = {}
    for row in rows:
        counts = per_name.setdefault(row["event_name"], [0] * days)
        if row["day"] in index:
            counts[index[row["day"]]] += row["n"]
    trends = [MeterTrend(meter, list(per_name.get(meter.event_name, [0] * days)))
              for meter in meters]
    trends.sort(key=lambda t: -t.total)  # stable: by name among equals
    return window, trends


def home_panel(request: HttpRequest, organization: Organization) -> str:
    """The home page's usage trends."""
    window, trends = usage_trends(organization=organization, today=overview.today(organization))
    shown = trends[:METERS_SHOWN]
    colours = overview.SERIES
    chart = overview.chart(
        kind="line", labels=[day.strftime("%m-%d") for day in window],
        datasets=[overview.dataset(t.meter.name, t.counts, colours[i % len(colours)],
                                   link=reverse("metering:meter-detail", args=[t.meter.id]))
                  for i, t in enumerate(shown)])
    return render_to_string("metering/_home_panel.html", {
        "first": window[0], "last": window[-1], "days": len(window),
        "trends": trends, "has_events": any(t.total for t in trends),
        "chart": chart, "colours": [overview.COLOURS[c] for c in colours],
    }, request=request)
