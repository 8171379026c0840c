"""Dashboard pages for usage: meters, per-customer usage by day, data sources and their syncs,
and a live tail of the events received.

Thin adapters: every read filters by ``request.organization`` (row-level security is the
second wall), every write goes through ``metering.services`` or ``metering.sync``. A data
source's settings hold credentials: no page ever renders them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts.models import Customer
from metering import selectors, services, sync
from metering.forms import SOURCE_EXAMPLES, DataSourceForm, MeterForm, errors_onto
from metering.models import DataSource, Event, Meter, SyncRun
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES

TAIL_SIZE = 50
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 366
TOP_CUSTOMERS = 10
RUNS_SHOWN = 50
# A sync started from the dashboard reads at most this many rows while the page waits; a
# larger backlog continues at the next scheduled run.
DASHBOARD_SYNC_ROWS = 20_000
# Aggregations whose value over no events is 0 (the others have no value).
ZERO_WHEN_EMPTY = {Meter.Aggregation.COUNT, Meter.Aggregation.SUM,
                   Meter.Aggregation.UNIQUE_COUNT}


# --- Text for people ---------------------------------------------------------------------------


def quantity_text(value: Decimal | None) -> str:
    """``Decimal("1234.5000")`` -> ``1,234.5``; at most 6 decimals (averages); None -> ``—``."""
    if value is None:
        return "—"
    number = value.normalize()
    if number.as_tuple().exponent < -6:
        number = number.quantize(Decimal("0.000001")).normalize()
    if number == number.to_integral():
        number = number.quantize(Decimal(1))
    return format(number, ",f")


def filter_text(rule: dict) -> str:
    op = {"equals": "=", "in": "in", "not_in": "not in"}.get(rule.get("op"), rule.get("op"))
    return f"{rule.get('property')} {op} {json.dumps(rule.get('value'), ensure_ascii=False)}"


def properties_text(properties: dict, limit: int = 90) -> str:
    """``{"tokens": 12, "region": "eu"}`` -> ``tokens=12 region=eu``, cut at ``limit``."""
    parts = []
    for key, value in (properties or {}).items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SUMMARY = {
    Meter.Aggregation.COUNT: "Counts events",
    Meter.Aggregation.SUM: "Sums {value} over events",
    Meter.Aggregation.MAX: "Takes the largest {value} of events",
    Meter.Aggregation.MIN: "Takes the smallest {value} of events",
    Meter.Aggregation.UNIQUE_COUNT: "Counts the distinct values of {value} in events",
    Meter.Aggregation.LATEST: "Takes the latest {value} of events",
    Meter.Aggregation.AVERAGE: "Averages {value} over events",
}


def meter_summary(meter: Meter) -> str:
    """What the meter computes, in one sentence."""
    text = _SUMMARY[meter.aggregation].format(value=meter.value_property or "?")
    text += f" named “{meter.event_name}”"
    if meter.filters:
        text += " where " + " and ".join(filter_text(rule) for rule in meter.filters)
    if meter.group_by:
        text += ", by " + ", ".join(meter.group_by)
    return text + "."


def _json_text(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


# --- Usage overview ----------------------------------------------------------------------------


def _tail(organization) -> list[dict]:
    return [
        {"event": event, "properties": properties_text(event.properties)}
        for event in selectors.events_tail(organization=organization, limit=TAIL_SIZE)
    ]


def _received_last_day(organization) -> int:
    since = timezone.now() - timedelta(hours=24)
    return Event.objects.filter(organization=organization, created_at__gte=since).count()


@member_required
def overview(request):
    organization = request.organization
    meters = Meter.objects.filter(organization=organization)
    tail = _tail(organization)
    return render(request, "metering/overview.html", {
        "meters": [
            {"meter": m, "filters": [filter_text(rule) for rule in m.filters or []]}
            for m in meters
        ],
        "tail": tail,
        "events_24h": _received_last_day(organization),
        "sources_count": DataSource.objects.filter(organization=organization).count(),
        "failing_count": DataSource.objects.filter(organization=organization,
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


# --- Meters ------------------------------------------------------------------------------------


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
    meter = get_object_or_404(Meter, id=meter_id, organization=request.organization)
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
    known = {c.external_id: c for c in Customer.objects.filter(organization=organization)
             .only("external_id", "name", "time_zone")}
    used = [row.customer for row in selectors.usage_by_customer(
        organization=organization, meter=meter, start=start, end=end)]
    with_usage = [(cid, known.get(cid)) for cid in used]
    others = [(cid, c) for cid, c in known.items() if cid not in set(used)]
    return with_usage, others, known


@member_required
def meter_detail(request, meter_id):
    organization = request.organization
    meter = get_object_or_404(Meter, id=meter_id, organization=organization)
    chosen = request.GET.get("customer", "").strip() or None
    customer = (Customer.objects.filter(organization=organization, external_id=chosen).first()
                if chosen else None)
    zone_name = customer.time_zone if customer is not None else "UTC"
    zone = ZoneInfo(zone_name)
    window = _window(request.GET, timezone.now().astimezone(zone).date())
    start, end = window.bounds(zone)

    rows = selectors.usage(organization=organization, meter=meter, start=start, end=end,
                           customer=chosen, granularity="day", time_zone=zone_name)
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


# --- Data sources ------------------------------------------------------------------------------


def _sources(organization):
    latest = SyncRun.objects.filter(organization=organization,
                                    source=OuterRef("pk")).order_by("-started_at")
    return DataSource.objects.filter(organization=organization).annotate(
        last_status=Subquery(latest.values("status")[:1]),
        last_started_at=Subquery(latest.values("started_at")[:1]),
    )


@member_required
def source_list(request):
    return render(request, "metering/source_list.html",
                  {"sources": _sources(request.organization), "active": "metering"})


def _source_fields(form: DataSourceForm) -> dict:
    fields = dict(form.cleaned_data)
    if form.fields["kind"].disabled:
        fields.pop("kind")
        if fields["settings"] is None:
            fields.pop("settings")  # left empty: keep the stored settings
    return fields


@member_required(roles=WRITE_ROLES)
def source_create(request):
    form = DataSourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source = sync.data_source_create(organization=request.organization,
                                             **_source_fields(form))
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Data source {source.name} created. Test its "
                             "connection and preview the mapping before the first sync.")
            return redirect("metering:source-detail", source_id=source.id)
    return render(request, "metering/source_form.html", {
        "form": form, "source": None, "examples": SOURCE_EXAMPLES, "active": "metering"})


@member_required(roles=WRITE_ROLES)
def source_edit(request, source_id):
    source = get_object_or_404(DataSource, id=source_id, organization=request.organization)
    form = DataSourceForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            source = sync.data_source_update(source=source, **_source_fields(form))
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"Data source {source.name} saved.")
            return redirect("metering:source-detail", source_id=source.id)
    return render(request, "metering/source_form.html", {
        "form": form, "source": source, "examples": SOURCE_EXAMPLES, "active": "metering"})


def _cursor_text(value) -> str:
    return "start" if value is None else json.dumps(value, ensure_ascii=False)


def _source_page(request, source: DataSource, **result):
    """The source's page; ``result`` is the outcome of a test or a preview, shown in place
    (an htmx request gets only that part)."""
    if request.headers.get("HX-Request") and result:
        return render(request, "metering/_source_result.html", result)
    runs = SyncRun.objects.filter(organization=request.organization,
                                  source=source)[:RUNS_SHOWN]
    runs = [{"run": run, "before": _cursor_text(run.cursor_before),
             "after": _cursor_text(run.cursor_after)} for run in runs]
    return render(request, "metering/source_detail.html", {
        "source": source, "runs": runs, "query": _json_text(source.query),
        "mapping": _json_text(source.mapping),
        "watermark": None if source.watermark is None else _cursor_text(source.watermark),
        "active": "metering", **result,
    })


@member_required
def source_detail(request, source_id):
    source = get_object_or_404(DataSource, id=source_id, organization=request.organization)
    return _source_page(request, source)


@member_required(roles=WRITE_ROLES)
@require_POST
def source_test(request, source_id):
    source = get_object_or_404(DataSource, id=source_id, organization=request.organization)
    ok, message = sync.data_source_test(source=source)
    return _source_page(request, source, test={"ok": ok, "message": message})


@member_required(roles=WRITE_ROLES)
@require_POST
def source_preview(request, source_id):
    """The first rows and the events they map to. Stores nothing."""
    source = get_object_or_404(DataSource, id=source_id, organization=request.organization)
    try:
        rows = sync.data_source_preview(source=source)
    except ValidationError as error:
        preview = {"error": " ".join(error.messages), "rows": []}
    else:
        preview = {"error": "", "rows": [
            {"row": _json_text(row), "errors": event.get("errors"),
             "event": None if "errors" in event else event,
             "properties": properties_text(event.get("properties") or {}, limit=200)}
            for row, event in rows
        ]}
    return _source_page(request, source, preview=preview)


@member_required(roles=WRITE_ROLES)
@require_POST
def source_sync(request, source_id):
    source = get_object_or_404(DataSource, id=source_id, organization=request.organization)
    run = sync.data_source_sync(source=source, max_rows=DASHBOARD_SYNC_ROWS)
    summary = (f"read {run.rows_read} rows, stored {run.events_stored} events, "
               f"{run.duplicates} duplicates, {run.rejected} rejected")
    if run.status == SyncRun.Status.SUCCEEDED:
        messages.success(request, f"Sync finished: {summary}.")
    elif run.status == SyncRun.Status.FAILED:
        messages.error(request, f"Sync failed: {run.error}")
    else:
        messages.info(request, "A sync of this source is already running.")
    return redirect("metering:source-detail", source_id=source.id)


@member_required(roles=WRITE_ROLES)
@require_POST
def source_toggle(request, source_id):
    source = get_object_or_404(DataSource, id=source_id, organization=request.organization)
    # The wanted state travels with the form, so a second click changes nothing.
    try:
        source = sync.data_source_update(source=source,
                                         enabled=request.POST.get("enabled") == "1")
    except ValidationError as error:
        messages.error(request, "The source's definition needs fixing first: "
                       + "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()))
    else:
        messages.success(request,
                         f"{source.name} is {'enabled' if source.enabled else 'disabled'}.")
    return redirect("metering:source-detail", source_id=source.id)
