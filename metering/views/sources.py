"""Data sources and their syncs, through ``metering.sync``. A data source's settings hold
credentials: no page ever renders them."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from metering import sync
from metering.forms import SOURCE_EXAMPLES, DataSourceForm, errors_onto
from metering.models import DataSource, SyncRun
from metering.views.text import _json_text, properties_text
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES

RUNS_SHOWN = 50

# A sync started from the dashboard reads at most this many rows while the page waits; a
# larger backlog continues at the next scheduled run.
DASHBOARD_SYNC_ROWS = 20_000

def _source(request, source_id) -> DataSource:
    return get_object_or_404(DataSource.objects.for_organization(request.organization),
                             id=source_id)

def _sources(organization):
    latest = SyncRun.objects.for_organization(organization).filter(
        source=OuterRef("pk")).order_by("-started_at")
    return DataSource.objects.for_organization(organization).annotate(
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
    source = _source(request, source_id)
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
    runs = SyncRun.objects.for_organization(request.organization).filter(
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
    source = _source(request, source_id)
    return _source_page(request, source)

@member_required(roles=WRITE_ROLES)
@require_POST
def source_test(request, source_id):
    source = _source(request, source_id)
    ok, message = sync.data_source_test(source=source)
    return _source_page(request, source, test={"ok": ok, "message": message})

@member_required(roles=WRITE_ROLES)
@require_POST
def source_preview(request, source_id):
    """The first rows and the events they map to. Stores nothing."""
    source = _source(request, source_id)
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
    source = _source(request, source_id)
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
    source = _source(request, source_id)
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
