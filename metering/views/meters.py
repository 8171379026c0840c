"""Meters: defined and edited through ``metering.services``; one meter's usage per customer and
day over a window of the URL's choosing (parsed here, in the adapter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from contracts.models import Customer
from metering import selectors, services
from metering.forms import MeterForm, errors_onto
from metering.models import Meter
from metering.views.text import ZERO_WHEN_EMPTY, filter_text, meter_summary, quantity_text
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES

DEFAULT_WINDOW_DAYS = 30

MAX_WINDOW_DAYS = 366

TOP_CUSTOMERS = 10

def _meter_fields(form: MeterForm) -> dict:
    fields = dict(form.cleaned_data)
    if form.fields["key"].disabled:
        fields.pop("key")
    return fields

@member_required(roles=WRITE_ROLES)
def meter_create(request):
    form = MeterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meter = services.meter_create(organization=request.organization,
                                          **_meter_fields(form))
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Meter {meter.name} created.")
            return redirect("metering:meter-detail", meter_id=meter.id)
    return render(request, "metering/meter_form.html",
                  {"form": form, "meter": None, "active": "metering"})

@member_required(roles=WRITE_ROLES)
def meter_edit(request, meter_id):
    meter = get_object_or_404(Meter.objects.for_organization(request.organization), id=meter_id)
    form = MeterForm(request.POST or None, meter=meter)
    if request.method == "POST" and form.is_valid():
        try:
            meter = services.meter_update(meter=meter, **_meter_fields(form))
        except ValidationError as error:
            errors_onto(form, error)
            meter.refresh_from_db()  # the page heading shows the stored definition
        else:
            messages.success(request, f"Meter {meter.name} saved.")
            return redirect("metering:meter-detail", meter_id=meter.id)
    return render(request, "metering/meter_form.html",
                  {"form": form, "meter": meter, "active": "metering"})

@dataclass
class Window:
    start: date  # first day shown
    end: date  # last day shown (inclusive)
    error: str = ""

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """``[start 00:00, end + 1 day 00:00)`` in ``zone``."""
        return (datetime.combine(self.start, clock(), tzinfo=zone),
                datetime.combine(self.end + timedelta(days=1), clock(), tzinfo=zone))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

def _window(params, today: date) -> Window:
    default = Window(today - timedelta(days=DEFAULT_WINDOW_DAYS - 1), today)
    try:
        start = date.fromisoformat(params["start"]) if params.get("start") else default.start
        end = date.fromisoformat(params["end"]) if params.get("end") else default.end
    except ValueError:
        return Window(default.start, default.end, "Dates are written YYYY-MM-DD.")
    if end < start:
        return Window(default.start, default.end, "The window ends before it starts.")
    if (end - start).days >= MAX_WINDOW_DAYS:
        return Window(default.start, default.end,
                      f"A window is at most {MAX_WINDOW_DAYS} days.")
    return Window(start, end)

def _customer_choices(organization, meter: Meter, start: datetime, end: datetime):
    """Customers with usage of the meter in the window first, then the organization's other
    customers: ``(with_usage, others, known)`` where ``known`` maps external id -> Customer."""
    known = {c.external_id: c for c in Customer.objects.for_organization(organization)
             .only("external_id", "name", "time_zone")}
    used = [row.customer for row in selectors.usage_by_customer(
        organization=organization, meter=meter, start=start, end=end)]
    with_usage = [(cid, known.get(cid)) for cid in used]
    others = [(cid, c) for cid, c in known.items() if cid not in set(used)]
    return with_usage, others, known

@member_required
def meter_detail(request, meter_id):
    organization = request.organization
    meter = get_object_or_404(Meter.objects.for_organization(organization), id=meter_id)
    chosen = request.GET.get("customer", "").strip() or None
    customer = (Customer.objects.for_organization(organization).filter(external_id=chosen).first()
                if chosen else None)
    zone_name = customer.time_zone if customer is not None else "UTC"
    zone = ZoneInfo(zone_name)
    window = _window(request.GET, timezone.now().astimezone(zone).date())
    start, end = window.bounds(zone)

    # a recurring meter has one level per customer and window, no daily buckets
    rows = [] if meter.recurring else selectors.usage(
        organization=organization, meter=meter, start=start, end=end, customer=chosen,
        granularity="day", time_zone=zone_name)
    by_day = {row.bucket.date(): row.quantity for row in rows}
    empty = Decimal(0) if meter.aggregation in ZERO_WHEN_EMPTY else None
    daily = [(day, by_day.get(day, empty)) for day in window.days()]
    overall = selectors.usage(organization=organization, meter=meter, start=start, end=end,
                              customer=chosen)
    with_usage, others, known = _customer_choices(organization, meter, start, end)
    if chosen and chosen not in known and chosen not in {cid for cid, _ in with_usage}:
        others.insert(0, (chosen, None))

    org_zone = ZoneInfo(organization.time_zone)
    month_start = timezone.now().astimezone(org_zone).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)
    month_rows = selectors.usage_by_customer(organization=organization, meter=meter,
                                             start=month_start, end=timezone.now())
    month_rows.sort(key=lambda r: (r.quantity is None, -(r.quantity or 0), r.customer))
    return render(request, "metering/meter_detail.html", {
        "meter": meter, "summary": meter_summary(meter),
        "filters": [filter_text(rule) for rule in meter.filters or []],
        "chosen": chosen, "customer": customer, "time_zone": zone_name, "window": window,
        "daily": [{"day": day, "quantity": quantity_text(q)} for day, q in daily],
        "chart": [{"date": day.isoformat(), "quantity": None if q is None else str(q)}
                  for day, q in daily],
        "has_usage": bool(rows),
        "window_total": quantity_text(overall[0].quantity if overall else empty),
        "with_usage": with_usage, "others": others,
        "top": [{"id": r.customer, "customer": known.get(r.customer),
                 "quantity": quantity_text(r.quantity)}
                for r in month_rows[:TOP_CUSTOMERS]],
        "month_start": month_start,
        "active": "metering",
    })
