"""Usage events, meters that aggregate them, and the data sources usage is pulled from.

See metering/README.md for the event table's design and the plans of its hot queries.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from zenskar.tenancy.models import TenantModel

PROPERTY_PATH = re.compile(r"^\$(\.[A-Za-z0-9_\-]+)+$")


def parse_path(path: str) -> list[str]:
    """``$.tokens.output`` -> ``["tokens", "output"]`` (the JSON path of a property)."""
    if not isinstance(path, str) or not PROPERTY_PATH.match(path):
        raise ValidationError(
            f"{path!r} is not a property path like $.tokens.output (letters, digits, _ and -)."
        )
    return path.split(".")[1:]


class Event(TenantModel):
    """One usage event, as sent. Immutable: a correction is another event.

    Stored once per (organization, event_id), by a unique index: a resend is a duplicate and
    changes nothing. ``customer`` is the customer's external id; the customer may not exist
    yet (the event is billed once they do).
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.CharField(max_length=255)
    customer = models.CharField(max_length=255)
    event_name = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict)
    # When the event's period was already invoiced and finalized: invoicing picks it up as an
    # adjustment on the next invoice, and clears the flag.
    needs_adjustment = models.BooleanField(default=False)
    source = models.ForeignKey(
        "metering.DataSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)  # received at

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "event_id"], name="event_id_unique")
        ]
        indexes = [
            models.Index(
                fields=["organization", "event_name", "timestamp"], name="event_name_time"
            ),
            models.Index(
                fields=["organization", "customer", "event_name", "timestamp"],
                name="event_customer_name_time",
            ),
            models.Index(fields=["organization", "-created_at"], name="event_received"),
        ]


class BilledThrough(TenantModel):
    """How far a customer's usage has been invoiced and finalized. Events that arrive for
    earlier times are flagged ``needs_adjustment``. Written by invoicing."""

    customer = models.CharField(max_length=255)
    through = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer"], name="billed_through_unique"
            )
        ]


class Meter(TenantModel):
    class Aggregation(models.TextChoices):
        COUNT = "count", "Count of events"
        SUM = "sum", "Sum of a property"
        MAX = "max", "Maximum of a property"
        MIN = "min", "Minimum of a property"
        UNIQUE_COUNT = "unique_count", "Count of distinct values of a property"
        LATEST = "latest", "Latest value of a property"
        AVERAGE = "average", "Average of a property"
        WEIGHTED_SUM = "weighted_sum", "Time-weighted sum of a recurring property"

    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    event_name = models.CharField(max_length=255)
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices)
    value_property = models.CharField(
        max_length=255, blank=True, help_text="JSON path of the value, e.g. $.tokens.output"
    )
    filters = models.JSONField(
        default=list, blank=True,
        help_text='[{"property": "$.region", "op": "equals|in|not_in", "value": ...}]',
    )
    group_by = models.JSONField(
        default=list, blank=True, help_text='Property paths, e.g. ["$.region"]'
    )
    recurring = models.BooleanField(
        default=False,
        help_text="The quantity carries over from period to period: each event adds (or, "
        "negative, removes) units of a level that persists. Only with sum (the level at the "
        "period's end) and weighted_sum (the level weighted by the time it held).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="meter_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class DataSource(TenantModel):
    """A database or API of the tenant's that usage is pulled from."""

    class Kind(models.TextChoices):
        POSTGRES = "postgres", "PostgreSQL"
        REDSHIFT = "redshift", "Amazon Redshift"
        MONGODB = "mongodb", "MongoDB"
        HTTP = "http", "HTTP JSON API"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Connection settings, encrypted at rest (zenskar.crypto); never returned by the API.
    encrypted_settings = models.BinaryField()
    query = models.JSONField(
        default=dict,
        help_text="postgres/redshift: {sql}; mongodb: {collection, filter}; http: {url, ...}",
    )
    mapping = models.JSONField(
        help_text="{event_id, customer, timestamp, event_name | event_name_value, properties}"
    )
    cursor_field = models.CharField(max_length=200)
    watermark = models.JSONField(null=True, blank=True, help_text="Last cursor value read.")
    interval_minutes = models.PositiveIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed runs.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SyncRun(TenantModel):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    events_stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    cursor_before = models.JSONField(null=True, blank=True)
    cursor_after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
