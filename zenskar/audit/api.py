"""API of the audit trail: ``GET /api/v1/audit-events`` (newest first, cursor-paginated) and
``GET /api/v1/audit-events/export`` (the same filters, one CSV file of at most
``selectors.MAX_EXPORT`` events). Owners and admins only (an admin API key): the trail says
who did what from which address. Read only -- nothing writes the trail but the database.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination

from zenskar.api.fields import BoundedDateTimeField
from zenskar.api.pagination import CreatedCursorPagination
from zenskar.api.views import OrganizationAPIView
from zenskar.audit import describe, exports, selectors
from zenskar.audit.models import Action, ActorType, AuditEvent, Channel
from zenskar.tenancy.models import MANAGE_ROLES

MAX_TEXT = 255  # characters of the actor filter (the label's column)


class AuditQuery(serializers.Serializer):
    """The filters of the list and of its export, checked like a body."""

    object_type = serializers.ChoiceField(
        choices=sorted(describe.OBJECT_TYPES), required=False,
        help_text="The kind of object: customer, contract, contract_phase, price_item, invoice, "
                  "invoice_line, credit_note, payment, refund, api_key, member...")
    object_id = serializers.UUIDField(required=False, help_text="One object's id.")
    actor = serializers.CharField(
        required=False, max_length=MAX_TEXT,
        help_text="Who: a person's e-mail or id, an API key's name or id, a task's name.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False,
                                      help_text="Where from.")
    action = serializers.ChoiceField(choices=Action.choices, required=False)
    since = BoundedDateTimeField(required=False,
                                 help_text="Events at or after this instant (ISO 8601).")
    until = BoundedDateTimeField(required=False,
                                 help_text="Events before this instant (ISO 8601).")

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and until <= since:
            raise serializers.ValidationError(
                {"until": [serializers.ErrorDetail("Must be after since.", code="invalid_range")]})
        return attrs


def _filters(request) -> dict:
    query = AuditQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


@extend_schema_field({
    "type": "object", "nullable": True, "additionalProperties": {"type": "array",
                                                                 "minItems": 2, "maxItems": 2},
    "example": {"name": ["Acme", "Acme Inc"], "payment_terms_days": [30, 45]},
})
class _ChangesField(serializers.JSONField):
    def to_representation(self, value):
        return describe.plain(value)


@extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
class _SnapshotField(serializers.JSONField):
    def to_representation(self, value):
        return describe.plain(value)


class ActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(source="actor_type", choices=ActorType.choices,
                                   help_text="user, api_key or system.")
    id = serializers.CharField(source="actor_id",
                               help_text="The user's or the API key's id; empty for system.")
    label = serializers.CharField(source="actor_label",
                                  help_text="The user's e-mail, the key's name, the task's name.")


class AuditEventSerializer(serializers.ModelSerializer):
    actor = ActorSerializer(source="*", read_only=True)
    changes = _ChangesField(read_only=True, allow_null=True,
                            help_text="A change: the changed fields only, each [old, new]; "
                                      "secrets as \"[redacted]\". Null for created and deleted.")
    snapshot = _SnapshotField(read_only=True, allow_null=True,
                              help_text="Created or deleted: the row as it was (secrets "
                                        "\"[redacted]\"). Null for a change.")

    class Meta:
        model = AuditEvent
        fields = ["id", "sequence", "occurred_at", "channel", "actor", "ip", "request_id",
                  "object_type", "object_id", "parent_id", "label", "action", "changes",
                  "snapshot"]


class SequenceCursorPagination(CreatedCursorPagination):
    """Newest first, in the order the database wrote them."""

    ordering = ("-sequence",)


class CSVOrJSONErrors(DefaultContentNegotiation):
    """The export answers a CSV written by the view itself; its errors are JSON in the one
    error body."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AuditEventListView(OrganizationAPIView):
    read_roles = MANAGE_ROLES
    pagination_class: type[CursorPagination] = SequenceCursorPagination

    @extend_schema(
        parameters=[AuditQuery], responses=AuditEventSerializer(many=True),
        summary="List audit events",
        description="Every write to the organization's customers, contracts (phases, price "
                    "items, discounts), products, invoices (lines), credit notes, payments, "
                    "refunds, templates, settings, ledger accounts and closes, API keys and "
                    "members: who (a person, an API key or the system), what (the object, "
                    "created, changed or deleted, with the changed fields' old and new values, "
                    "or the whole row), when (UTC) and from where (api, dashboard, task, "
                    "system, checkout or webhook; the client's address and the request's id). "
                    "Newest first, cursor-paginated. Recorded by the database in the writing "
                    "transaction; never changed nor deleted.",
    )
    def get(self, request):
        events = selectors.events_list(organization=self.organization, **_filters(request))
        return self.paginate(events, AuditEventSerializer)


class AuditEventExportView(OrganizationAPIView):
    read_roles = MANAGE_ROLES
    content_negotiation_class = CSVOrJSONErrors

    @extend_schema(
        parameters=[AuditQuery], responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="Export audit events as CSV",
        description="The events the same filters select, newest first, as a CSV file with a "
                    "header row: " + ", ".join(exports.CSV_COLUMNS) + " (changes and "
                    "snapshot as JSON; text a spreadsheet would run as a formula starts with a "
                    f"quote). At most {selectors.MAX_EXPORT:,} events: more is a 400 "
                    "(`too_many_events`); narrow the filters (since, until).",
    )
    def get(self, request):
        events = selectors.events_list(organization=self.organization, **_filters(request))
        if selectors.too_many_to_export(events):
            raise serializers.ValidationError({"since": [serializers.ErrorDetail(
                f"More than {selectors.MAX_EXPORT:,} events: narrow the filters (since, "
                "until).", code="too_many_events")]})
        return exports.csv_file(events, self.organization)
