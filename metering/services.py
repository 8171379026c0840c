"""Writes for usage: ingesting events (pushed or pulled) and defining meters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from metering.models import BilledThrough, Meter, parse_path
from metering.validation import CheckedEvent, check_event
from zenskar.events import DomainEvent, publish
from zenskar.tenancy.models import Organization

MAX_BATCH = 10_000
USAGE_INGESTED = "usage.ingested"


@dataclass
class Rejection:
    index: int
    event_id: str | None
    errors: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "errors": self.errors}


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.to_dict() for r in self.rejected],
        }


_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS metering_event_staging (
    event_id text, customer text, event_name text, "timestamp" timestamptz, properties jsonb
) ON COMMIT DELETE ROWS
"""

# Rows already stored, or repeated within the batch, fall out on the unique index. An event for
# a time its customer has already been invoiced through is flagged for an adjustment.
_INSERT = """
INSERT INTO metering_event
    (organization_id, event_id, customer, event_name, "timestamp", properties,
     needs_adjustment, source_id, created_at)
SELECT %(organization)s, s.event_id, s.customer, s.event_name, s."timestamp", s.properties,
       COALESCE(s."timestamp" < b.through, false), %(source)s, %(now)s
FROM metering_event_staging s
LEFT JOIN metering_billedthrough b
       ON b.organization_id = %(organization)s AND b.customer = s.customer
ORDER BY s.event_id  -- one lock order for every batch: overlapping batches never deadlock
ON CONFLICT (organization_id, event_id) DO NOTHING
RETURNING event_id
"""


# Small batches (a single event, most often) skip the staging table: one INSERT ... VALUES
# statement, atomic on its own, is one round trip instead of five.
SMALL_BATCH = 64

_INSERT_VALUES = """
INSERT INTO metering_event
    (organization_id, event_id, customer, event_name, "timestamp", properties,
     needs_adjustment, source_id, created_at)
SELECT %s, v.event_id, v.customer, v.event_name, v.ts, v.properties::jsonb,
       COALESCE(v.ts < b.through, false), %s, %s
FROM (VALUES {rows}) AS v(event_id, customer, event_name, ts, properties)
LEFT JOIN metering_billedthrough b ON b.organization_id = %s AND b.customer = v.customer
ORDER BY v.event_id
ON CONFLICT (organization_id, event_id) DO NOTHING
RETURNING event_id
"""


def _insert_small(cursor: CursorWrapper, organization_id: UUID, source_id: UUID | None,
                  now: datetime, valid: list[CheckedEvent]) -> None:
    rows = ", ".join(["(%s, %s, %s, %s::timestamptz, %s)"] * len(valid))
    params: list[Any] = [organization_id, source_id, now]
    for e in valid:
        params += [e.event_id, e.customer, e.event_name, e.timestamp, e.properties_json]
    params.append(organization_id)
    cursor.execute(_INSERT_VALUES.format(rows=rows), params)


def _insert_staged(cursor: CursorWrapper, organization_id: UUID, source_id: UUID | None,
                   now: datetime, valid: list[CheckedEvent]) -> None:
    cursor.execute(_STAGING)
    with cursor.copy(
        'COPY metering_event_staging (event_id, customer, event_name, "timestamp", '
        "properties) FROM STDIN"
    ) as copy:
        for e in valid:
            copy.write_row((e.event_id, e.customer, e.event_name, e.timestamp, e.properties_json))
    cursor.execute(_INSERT, {"organization": organization_id, "source": source_id, "now": now})


def events_ingest(
    *, organization: Organization, events: list[Any], source_id: UUID | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Store the valid events of a batch; report the others by index, with reasons.

    Idempotent by the unique index on (organization, event_id): an event already stored --
    or sent twice in one batch, or by two requests at once -- is counted as a duplicate and
    changes nothing. All or none of the valid events are stored: a large batch goes through
    ``COPY`` into a temporary staging table, then one ``INSERT ... SELECT ... ON CONFLICT DO
    NOTHING``, in one transaction (``COPY`` itself is refused on a table under row-level
    security); a small one is a single ``INSERT ... VALUES`` statement. The ids of the events
    stored are published as ``usage.ingested`` in the same transaction.
    """
    now = now or timezone.now()
    window = timedelta(days=organization.usage_window_days)
    result = IngestResult()
    valid: list[CheckedEvent] = []
    for index, event in enumerate(events):
        checked = check_event(event, now=now, window=window)
        if isinstance(checked, dict):
            event_id = event.get("event_id") if isinstance(event, dict) else None
            result.rejected.append(
                Rejection(index, event_id if isinstance(event_id, str) else None, checked)
            )
        else:
            valid.append(checked)
    if not valid:
        return result
    with transaction.atomic(), connection.cursor() as cursor:
        if len(valid) <= SMALL_BATCH:
            _insert_small(cursor, organization.id, source_id, now, valid)
        else:
            _insert_staged(cursor, organization.id, source_id, now, valid)
        inserted = {row[0] for row in cursor.fetchall()}
        if inserted:
            # in this transaction: the entitlements' usage counters move with the events
            publish(DomainEvent(
                name=USAGE_INGESTED, organization_id=organization.id,
                payload={"event_ids": sorted(inserted)}))
    result.accepted = len(inserted)
    result.duplicates = len(valid) - len(inserted)
    if result.duplicates:
        result.duplicate_ids = [e.event_id for e in valid if e.event_id not in inserted]
    return result


@transaction.atomic
def billed_through_set(*, organization: Organization, customer: str, through: datetime) -> None:
    """Record that ``customer``'s usage is invoiced and finalized up to ``through`` (called by
    invoicing at finalization). Only moves forward."""
    row, created = BilledThrough.objects.select_for_update().get_or_create(
        organization=organization, customer=customer, defaults={"through": through}
    )
    if not created and through > row.through:
        row.through = through
        row.save(update_fields=["through"])


@transaction.atomic
def events_adjusted(*, organization: Organization, customer: str, start: datetime,
                    end: datetime, received_before: datetime | None = None) -> int:
    """Clear the late-usage flag of ``customer``'s events in ``[start, end)`` (received
    before ``received_before``, when given): an invoice has re-rated the periods they fall in
    (called by invoicing at finalization). An event received while that invoice was being
    rated keeps its flag, for the next correction."""
    from metering.models import Event

    events = Event.objects.for_organization(organization).filter(
        customer=customer, needs_adjustment=True,
        timestamp__gte=start, timestamp__lt=end,
    )
    if received_before is not None:
        events = events.filter(created_at__lt=received_before)
    return events.update(needs_adjustment=False)


# --- Meters -----------------------------------------------------------------------------------

METER_FIELDS = {"key", "name", "description", "event_name", "aggregation", "value_property",
                "filters", "group_by", "recurring"}
FILTER_OPS = {"equals", "in", "not_in"}


def _coded(error: ValidationError, code: str) -> list[ValidationError]:
    return [ValidationError(message, code=code) for message in error.messages]


def _check_meter(meter: Meter) -> None:
    errors: dict[str, list[ValidationError]] = {}
    needs_value = meter.aggregation != Meter.Aggregation.COUNT
    if needs_value and not meter.value_property:
        errors["value_property"] = [ValidationError(
            f"A {meter.aggregation} meter needs the value's property.", code="required")]
    if meter.value_property:
        try:
            parse_path(meter.value_property)
        except ValidationError as error:
            errors["value_property"] = _coded(error, "invalid_path")
    if not isinstance(meter.filters, list):
        errors["filters"] = [ValidationError("Must be a list of {property, op, value}.",
                                             code="invalid_type")]
    else:
        for index, rule in enumerate(meter.filters):
            here = f"filters[{index}]"
            if not isinstance(rule, dict) or set(rule) != {"property", "op", "value"}:
                errors[here] = [ValidationError("Must be {property, op, value}.",
                                                code="invalid_type")]
                continue
            try:
                parse_path(rule["property"])
            except ValidationError as error:
                errors[f"{here}.property"] = _coded(error, "invalid_path")
            if rule["op"] not in FILTER_OPS:
                errors[f"{here}.op"] = [ValidationError(
                    f"Must be one of {', '.join(sorted(FILTER_OPS))}.", code="invalid_choice")]
            elif rule["op"] == "equals" and isinstance(rule["value"], list | dict):
                errors[f"{here}.value"] = [ValidationError("equals compares with one value.",
                                                           code="invalid_value")]
            elif rule["op"] != "equals" and not (
                isinstance(rule["value"], list) and rule["value"]
            ):
                errors[f"{here}.value"] = [ValidationError(
                    f"{rule['op']} needs a non-empty list of values.", code="invalid_value")]
    if not isinstance(meter.group_by, list):
        errors["group_by"] = [ValidationError("Must be a list of property paths.",
                                              code="invalid_type")]
    else:
        for index, path in enumerate(meter.group_by):
            try:
                parse_path(path)
            except ValidationError as error:
                errors[f"group_by[{index}]"] = _coded(error, "invalid_path")
    _check_recurring(meter, errors)
    if errors:
        raise ValidationError(errors)


#: The aggregations a recurring meter can have: the level at the period's end (sum) and the
#: level weighted by the share of the period it held (weighted_sum).
RECURRING_AGGREGATIONS = (Meter.Aggregation.SUM, Meter.Aggregation.WEIGHTED_SUM)


def _check_recurring(meter: Meter, errors: dict[str, list[ValidationError]]) -> None:
    if meter.aggregation == Meter.Aggregation.WEIGHTED_SUM and not meter.recurring:
        errors["recurring"] = [ValidationError(
            "A weighted_sum meter is recurring: its level carries over between periods.",
            code="required")]
    elif meter.recurring and meter.aggregation not in RECURRING_AGGREGATIONS:
        errors["recurring"] = [ValidationError(
            "Only a sum or weighted_sum meter can be recurring.", code="invalid_choice")]
    elif meter.recurring and meter.group_by:
        errors["group_by"] = [ValidationError(
            "A recurring meter has one level per customer: it cannot be grouped.",
            code="invalid_value")]


def _save_meter(meter: Meter) -> Meter:
    _check_meter(meter)
    meter.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            meter.save()
    except IntegrityError:
        raise ValidationError({"key": [ValidationError("A meter with this key already exists.",
                                                       code="unique")]}) from None
    return meter


@transaction.atomic
def meter_create(*, organization: Organization, **fields: Any) -> Meter:
    return _save_meter(
        Meter(organization=organization, **{k: v for k, v in fields.items() if k in METER_FIELDS})
    )


@transaction.atomic
def meter_update(*, meter: Meter, **fields: Any) -> Meter:
    """Change a meter's definition. Invoices already finalized keep the quantities they were
    computed with (their lines store them); only future computations use the new one."""
    for name, value in fields.items():
        if name in METER_FIELDS - {"key"}:
            setattr(meter, name, value)
    return _save_meter(meter)
