"""The usage overview and the live tail of the events received."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from metering import selectors
from metering.models import DataSource, Event, Meter
from metering.views.text import filter_text, properties_text
from zenskar.dashboard.views import member_required

TAIL_SIZE = 50

def _tail(organization) -> list[dict]:
    return [
        {"event": event, "properties": properties_text(event.properties)}
        for event in selectors.events_tail(organization=organization, limit=TAIL_SIZE)
    ]

def _received_last_day(organization) -> int:
    since = timezone.now() - timedelta(hours=24)
    return Event.objects.for_organization(organization).filter(created_at__gte=since).count()

@member_required
def overview(request):
    organization = request.organization
    meters = Meter.objects.for_organization(organization)
    tail = _tail(organization)
    return render(request, "metering/overview.html", {
        "meters": [
            {"meter": m, "filters": [filter_text(rule) for rule in m.filters or []]}
            for m in meters
        ],
        "tail": tail,
        "events_24h": _received_last_day(organization),
        "sources_count": DataSource.objects.for_organization(organization).count(),
        "failing_count": DataSource.objects.for_organization(organization).filter(
            failures__gt=0).count(),
        "events_url": request.build_absolute_uri(reverse("api:events")),
        "example_time": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "active": "metering",
    })

@member_required
def tail(request):
    """The live tail's rows, polled every few seconds by the overview (htmx), with the count of
    events received in the last 24 hours swapped in out of band."""
    return render(request, "metering/_tail.html", {
        "tail": _tail(request.organization), "oob": True,
        "events_24h": _received_last_day(request.organization),
    })
