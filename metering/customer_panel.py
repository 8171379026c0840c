"""What metering shows on the customer page (a page of contracts, an earlier app, filled
through ``zenskar.dashboard.panels``): the "Usage" section -- the customer's quantity of every
meter over the last 30 days (today included, in the customer's time zone), each a link to
the meter's page for the customer over the same days. Two queries: the meters, then every
meter's quantity in one statement (``selectors.customer_usage``)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from contracts.models import Customer
from metering import selectors
from metering.models import Meter
from metering.views.text import quantity_text

DAYS = 30  # the meter page's own default window
METERS_SHOWN = 20


def customer_usage_panel(request: HttpRequest, customer: Customer) -> str:
    """Nothing when the organization has no meter."""
    organization = request.organization
    meters = list(Meter.objects.for_organization(organization).order_by("name", "key")
                  [:METERS_SHOWN + 1])
    if not meters:
        return ""
    more, meters = len(meters) > METERS_SHOWN, meters[:METERS_SHOWN]
    zone = ZoneInfo(customer.time_zone)
    today = timezone.now().astimezone(zone).date()
    first = today - timedelta(days=DAYS - 1)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    query = urlencode({"customer": customer.external_id, "start": first.isoformat(),
                       "end": today.isoformat()})
    usage = selectors.customer_usage(organization=organization, customer=customer.external_id,
                                     meters=meters, start=start, end=end)
    return render_to_string("metering/_customer_usage.html", {
        "first": first, "today": today, "more": more, "time_zone": customer.time_zone,
        "rows": [{"meter": meter, "quantity": quantity_text(quantity),
                  "used": bool(quantity),
                  "url": f"{reverse('metering:meter-detail', args=[meter.id])}?{query}"}
                 for meter, quantity in usage],
        "any": any(quantity for _, quantity in usage),
    }, request=request)
