"""The audit trail as a CSV file (the API's export and the dashboard's "Export CSV"):
``zenskar.dashboard.csv_export``'s rules -- streamed, a header row, ISO instants, text a
spreadsheet would run as a formula quoted -- with the changes and the snapshot as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from zenskar.audit import describe, selectors
from zenskar.audit.models import AuditEvent
from zenskar.dashboard import csv_export
from zenskar.tenancy.models import Organization

CSV_COLUMNS = ["occurred_at", "sequence", "channel", "actor_type", "actor_id", "actor_label",
               "ip", "request_id", "object_type", "object_id", "parent_id", "label", "action",
               "changes", "snapshot", "id"]


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(describe.plain(value), ensure_ascii=False, separators=(",", ":"))


def csv_row(event: AuditEvent) -> list[Any]:
    return [event.occurred_at, event.sequence, event.channel, event.actor_type, event.actor_id,
            event.actor_label, event.ip, event.request_id, event.object_type, event.object_id,
            event.parent_id, event.label, event.action, _json(event.changes),
            _json(event.snapshot), event.id]


def csv_file(events: QuerySet[AuditEvent], organization: Organization,
             filename: str = "audit-events.csv") -> StreamingHttpResponse:
    """The events as a CSV file, streamed (``csv_export``'s rules)."""
    return csv_export.csv_response(
        filename=filename, header=CSV_COLUMNS, organization=organization,
        rows=(csv_row(event) for event in selectors.export_rows(events)))
