"""Pulling usage from tenants' own systems: data sources, their previews and sync runs.

A source names a connector (``metering.connectors``), its encrypted connection settings, a
query, a cursor field (an ever-increasing column: an id or an "updated at"), and a mapping
from a row to a usage event. A sync reads the rows after the source's watermark, in pages,
maps them, stores them through ``events_ingest`` and moves the watermark. Callers run these
services inside the organization's ``tenant_context``.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from metering import connectors
from metering.connectors.base import Connector, ConnectorError, json_safe
from metering.connectors.mapping import Errors, map_row, mapping_errors
from metering.models import DataSource, SyncRun
from metering.services import IngestResult, events_ingest
from metering.validation import check_event
from zenskar.crypto import decrypt_json, encrypt_json
from zenskar.tenancy.models import Organization

logger = logging.getLogger(__name__)

PAGE_SIZE = 5_000
MAX_ROWS_PER_RUN = 200_000  # a larger backlog continues at the next beat
TIME_BUDGET = timedelta(minutes=10)  # below the sync task's soft time limit
RUN_LEASE = timedelta(minutes=30)  # a run still "running" after this died with its worker
MAX_BACKOFF = timedelta(hours=6)
MAX_INTERVAL_MINUTES = 7 * 24 * 60
UPDATABLE = {"name", "settings", "query", "mapping", "cursor_field", "interval_minutes",
             "enabled", "watermark"}


# --- Defining a source -------------------------------------------------------------------------


def _check(
    *, kind: str, name: Any, settings: Any, query: Any, mapping: Any, cursor_field: Any,
    interval_minutes: Any,
) -> None:
    errors: Errors = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = ["Required, at most 200 characters."]
    if kind not in connectors.KINDS:
        errors["kind"] = [f"Must be one of {', '.join(connectors.KINDS)}."]
    if not isinstance(settings, dict):
        errors["settings"] = ["Must be an object."]
    if not isinstance(query, dict):
        errors["query"] = ["Must be an object."]
    if "kind" not in errors and isinstance(settings, dict) and isinstance(query, dict):
        errors.update(connectors.validate(kind, settings, query))
    if not isinstance(mapping, dict):
        errors["mapping"] = ["Must be an object."]
    else:
        errors.update(mapping_errors(mapping))
    if not isinstance(cursor_field, str) or not cursor_field or len(cursor_field) > 200:
        errors["cursor_field"] = ["Required: the column that only grows (an id or a time)."]
    if (not isinstance(interval_minutes, int) or isinstance(interval_minutes, bool)
            or not 1 <= interval_minutes <= MAX_INTERVAL_MINUTES):
        errors["interval_minutes"] = [f"Must be a whole number from 1 to {MAX_INTERVAL_MINUTES}."]
    if errors:
        raise ValidationError({field: [ValidationError(m, code=_code(field)) for m in messages]
                               for field, messages in errors.items()})


# The machine code of a refusal, by the field refused (the API's ``codes``).
_CODES = {"name": "invalid_name", "kind": "invalid_choice", "settings": "invalid_type",
          "query": "invalid_type", "cursor_field": "required",
          "interval_minutes": "out_of_bounds"}


def _code(field: str) -> str:
    if field in _CODES:
        return _CODES[field]
    return f"invalid_{field.split('.')[0]}"  # settings.host, query.sql, mapping.customer...


@transaction.atomic
def data_source_create(
    *, organization: Organization, name: str, kind: str, settings: dict[str, Any],
    query: dict[str, Any], mapping: dict[str, Any], cursor_field: str, interval_minutes: int = 60,
) -> DataSource:
    """Define a source. The settings (credentials) are stored encrypted only. Nothing is
    contacted; the first sync is due at the next beat. Raises ValidationError by field
    (``settings.host``, ``mapping.customer``...) with nothing written."""
    _check(kind=kind, name=name, settings=settings, query=query, mapping=mapping,
           cursor_field=cursor_field, interval_minutes=interval_minutes)
    return DataSource.objects.create(
        organization=organization, name=name.strip(), kind=kind,
        encrypted_settings=encrypt_json(settings), query=query, mapping=mapping,
        cursor_field=cursor_field, interval_minutes=interval_minutes, next_run_at=timezone.now(),
    )


@transaction.atomic
def data_source_update(*, source: DataSource, **fields: Any) -> DataSource:
    """Change a source. ``settings`` are merged into the stored ones (a key set to None is
    removed), so a form may leave the password out. New settings, or re-enabling, clear the
    failure count and make the source due now; a new cursor field restarts from the beginning
    (events already stored are recognised as duplicates). ``watermark`` may be set to re-read
    from a point (None: from the start)."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValidationError({key: [ValidationError("Cannot be changed.", code="read_only")]
                               for key in sorted(unknown)})
    source = DataSource.objects.for_organization(source.organization).select_for_update().get(
        pk=source.pk)
    settings = decrypt_json(source.encrypted_settings)
    if "settings" in fields:
        if not isinstance(fields["settings"], dict):
            raise ValidationError({"settings": [ValidationError("Must be an object.",
                                                                code="invalid_type")]})
        settings = {k: v for k, v in {**settings, **fields["settings"]}.items() if v is not None}
    values = {
        key: fields.get(key, getattr(source, key))
        for key in ("name", "query", "mapping", "cursor_field", "interval_minutes")
    }
    _check(kind=source.kind, settings=settings, **values)
    if values["cursor_field"] != source.cursor_field and "watermark" not in fields:
        source.watermark = None
    for key, value in values.items():
        setattr(source, key, value)
    now = timezone.now()
    if "watermark" in fields:
        source.watermark = json_safe(fields["watermark"])
    if "settings" in fields:
        source.encrypted_settings = encrypt_json(settings)
        source.failures, source.next_run_at = 0, now
    if "enabled" in fields:
        if fields["enabled"] and not source.enabled:
            source.failures, source.next_run_at = 0, now
        source.enabled = bool(fields["enabled"])
    latest = now + timedelta(minutes=source.interval_minutes)
    if source.next_run_at is not None and source.next_run_at > latest:
        source.next_run_at = latest
    source.save()
    return source


@transaction.atomic
def data_source_delete(*, source: DataSource) -> None:
    """Delete a source and its sync runs. The events it stored stay: they are usage, billed
    or to be billed, whoever sent them."""
    DataSource.objects.for_organization(source.organization).filter(pk=source.pk).delete()


# --- Talking to the source ---------------------------------------------------------------------


def _connector(source: DataSource) -> tuple[Connector, list[str]]:
    settings = decrypt_json(source.encrypted_settings)
    connector = connectors.connector_for(source.kind, settings, source.query, source.cursor_field)
    return connector, connectors.secrets_of(settings)


def _readable(error: BaseException, secrets: list[str]) -> str:
    if isinstance(error, ConnectorError):
        text = str(error)
    else:
        text = f"Unexpected error ({type(error).__name__}): {error}"
    return connectors.redact(text, secrets)[:2000]


def data_source_test(*, source: DataSource) -> tuple[bool, str]:
    """Connect and check the query (and cursor field, where the source can tell). Reads no
    rows into the platform and writes nothing. The message never contains credentials."""
    secrets: list[str] = []
    try:
        connector, secrets = _connector(source)
        with connector:
            connector.test_connection()
    except Exception as error:  # every failure becomes a message
        return False, _readable(error, secrets)
    return True, f"Connected to {source.get_kind_display()}; the query works."


def data_source_preview(*, source: DataSource,
                        limit: int = 10) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The first ``limit`` rows of the source (from the start, whatever the watermark), each
    with the event it maps to -- or ``{"errors": {...}}``, including the reasons ingestion
    would refuse it (too old, in the future). Stores nothing, moves nothing. A connection
    failure raises ValidationError under ``connection``, without credentials."""
    secrets: list[str] = []
    try:
        connector, secrets = _connector(source)
        with connector:
            connector.test_connection()
            rows = connector.fetch(None, limit)
    except Exception as error:  # every failure becomes a message
        raise ValidationError({"connection": [ValidationError(_readable(error, secrets),
                                                              code="connection_failed")]}) from None
    now = timezone.now()
    window = timedelta(days=source.organization.usage_window_days)
    preview = []
    for row in rows:
        event, errors = map_row(source_id=source.id, mapping=source.mapping, row=row)
        if event is not None:
            checked = check_event(event, now=now, window=window)
            if isinstance(checked, dict):
                errors = checked
        preview.append((json_safe(row), {"errors": errors} if errors else event or {}))
    return preview


# --- Syncing -----------------------------------------------------------------------------------


def _claim(source: DataSource) -> tuple[DataSource, SyncRun, bool]:
    """Lock the source, retire runs that died, and start a run unless one is alive."""
    now = timezone.now()
    with transaction.atomic():
        locked = (DataSource.objects.for_organization(source.organization)
                  .select_for_update().get(pk=source.pk))
        running = SyncRun.objects.for_organization(locked.organization_id).filter(
            source=locked, status=SyncRun.Status.RUNNING)
        running.filter(started_at__lt=now - RUN_LEASE).update(
            status=SyncRun.Status.FAILED, finished_at=now,
            error="Interrupted: the worker stopped before the run finished.",
        )
        alive = running.first()
        if alive is not None:
            return locked, alive, False
        run = SyncRun.objects.create(
            organization=locked.organization, source=locked, cursor_before=locked.watermark,
            cursor_after=locked.watermark,
        )
    return locked, run, True


def backoff(*, failures: int, interval_minutes: int) -> timedelta:
    """Wait after the n-th consecutive failure: 2**n minutes, never more than the source's
    interval, never more than 6 hours."""
    minutes = min(interval_minutes, 2 ** min(failures, 20))
    return min(timedelta(minutes=minutes), MAX_BACKOFF)


def _store_page(
    source: DataSource, run: SyncRun, connector: Connector, rows: list[dict[str, Any]], notes: list[str]
) -> None:
    """Map and store one page, then move the watermark past it -- in one transaction, so a
    crash leaves the watermark before rows that were not stored."""
    events, where = [], []
    rejected = 0
    for row in rows:
        event, errors = map_row(source_id=source.id, mapping=source.mapping, row=row)
        if event is not None:
            events.append(event)
            where.append(connector.cursor_value(row))
        else:
            rejected += 1
            if len(notes) < 5:
                notes.append(f"row at {connector.cursor_value(row)!r}: {errors}")
    cursor = connector.cursor_value(rows[-1])
    with transaction.atomic():
        result = (events_ingest(organization=source.organization, events=events,
                                source_id=source.id) if events else IngestResult())
        counts = {
            "rows_read": run.rows_read + len(rows),
            "events_stored": run.events_stored + result.accepted,
            "duplicates": run.duplicates + result.duplicates,
            "rejected": run.rejected + rejected + len(result.rejected),
            "cursor_after": cursor,
        }
        SyncRun.objects.for_organization(run.organization_id).filter(pk=run.pk).update(**counts)
        DataSource.objects.for_organization(source.organization_id).filter(pk=source.pk).update(
            watermark=cursor)
    # committed: now the objects may say so
    for name, value in counts.items():
        setattr(run, name, value)
    source.watermark = cursor
    for rejection in result.rejected:
        if len(notes) < 5:
            notes.append(f"row at {where[rejection.index]!r}: {rejection.errors}")


def _without_last_tie(connector: Connector,
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A full page may end in the middle of rows sharing one cursor value; reading after that
    value would skip the rest. Hold those rows back for the next page."""
    last = connector.cursor_value(rows[-1])
    kept = [row for row in rows if connector.cursor_value(row) != last]
    if not kept:
        raise ConnectorError(
            f"More than {len(rows)} rows share the cursor value {last!r}; choose a cursor field "
            "whose values are more distinct."
        )
    return kept


def data_source_sync(
    *, source: DataSource, page_size: int = PAGE_SIZE, max_rows: int = MAX_ROWS_PER_RUN,
) -> SyncRun:
    """Read the rows after the watermark and store them as events; return the run.

    Guarantees: one run at a time per source (a live run is returned as is); each page's
    events are stored and the watermark moved in one transaction, so a crash re-reads at most
    one page and the unique event ids make the re-read count as duplicates, never twice. A
    failure -- of any kind -- is recorded on the run (readable, credentials removed) and
    backs the source off; it is never raised, so one source cannot stop another. Rejected
    rows are counted, with the first reasons in ``error``, and do not fail the run.
    """
    given = source
    source, run, started = _claim(given)
    if not started:
        return run
    secrets: list[str] = []
    notes: list[str] = []
    more = False
    deadline = time.monotonic() + TIME_BUDGET.total_seconds()
    try:
        connector, secrets = _connector(source)
        with connector:
            while True:
                rows = connector.fetch(source.watermark, page_size)
                if not rows:
                    break
                full = len(rows) >= page_size
                _store_page(source, run, connector,
                            _without_last_tie(connector, rows) if full else rows, notes)
                if not full:
                    break
                if run.rows_read >= max_rows or time.monotonic() > deadline:
                    more = True
                    break
    except Exception as error:  # recorded on the run, see the docstring
        message = _readable(error, secrets)
        if not isinstance(error, ConnectorError):
            logger.error("data source %s: %s", source.id, connectors.redact(
                "".join(traceback.format_exception(error)), secrets))
        logger.warning("sync of data source %s failed: %s", source.id, message)
        run.status = SyncRun.Status.FAILED
        run.error = message
        source.failures += 1
        source.next_run_at = timezone.now() + backoff(
            failures=source.failures, interval_minutes=source.interval_minutes
        )
    else:
        run.status = SyncRun.Status.SUCCEEDED
        if run.rejected:
            run.error = f"{run.rejected} rows rejected; the first: " + "; ".join(notes)
        source.failures = 0
        now = timezone.now()
        source.next_run_at = now if more else now + timedelta(minutes=source.interval_minutes)
        logger.info("data source %s: read %s rows, stored %s, %s duplicates, %s rejected",
                    source.id, run.rows_read, run.events_stored, run.duplicates, run.rejected)
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    source.save(update_fields=["failures", "next_run_at", "updated_at"])
    given.refresh_from_db()
    return run


def sources_due(*, organization: Organization, now: datetime | None = None) -> list[str]:
    """Claim the organization's enabled sources that are due (``next_run_at`` passed or
    unset) and return their ids. Rows another claimer holds are skipped (SKIP LOCKED) and a
    claimed source is pushed a lease ahead, so two beats never send it twice; the sync itself
    sets the real next time."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            DataSource.objects.for_organization(organization).select_for_update(skip_locked=True)
            .filter(enabled=True)
            .exclude(next_run_at__gt=now)
            .values_list("id", flat=True)
        )
        DataSource.objects.for_organization(organization).filter(id__in=due).update(
            next_run_at=now + RUN_LEASE)
    return [str(source_id) for source_id in due]


__all__ = ["backoff", "data_source_create", "data_source_preview", "data_source_sync",
           "data_source_test", "data_source_update", "map_row", "sources_due"]
