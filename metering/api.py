"""API for usage events (push), meters, and usage queries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from metering import selectors, services, sync
from metering.models import DataSource, Event, Meter, SyncRun
from metering.validation import MAX_ID_LENGTH, parse_timestamp
from zenskar.api.views import OrganizationAPIView


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _json_body(request):
    """The request's JSON, parsed with orjson (the event path is hot). Nothing is stored when
    the body is not JSON or over the limit."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.EVENTS_MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The body is {length} bytes; the limit is {settings.EVENTS_MAX_BODY_BYTES}."
        )
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as error:
        raise exceptions.ParseError(f"The body is not valid JSON: {error}") from None


class EventIn(serializers.Serializer):
    """A usage event as sent: documentation only -- the body is read and checked by
    ``metering.validation.check_event``, which these bounds describe."""

    event_id = serializers.CharField(
        max_length=MAX_ID_LENGTH,
        help_text="Your id of the event, unique in the organization (1 to 255 characters, no "
                  "NUL): an event sent again with it is counted once (a duplicate).")
    customer = serializers.CharField(
        max_length=MAX_ID_LENGTH,
        help_text="The customer's external_id (1 to 255 characters, no NUL).")
    event_name = serializers.CharField(
        max_length=MAX_ID_LENGTH,
        help_text="What happened, e.g. api_call: meters count the events of their "
                  "event_name (1 to 255 characters, no NUL).")
    timestamp = serializers.DateTimeField(
        help_text="When it happened: ISO 8601 with a time zone (Z or an offset), at most 5 "
                  "minutes in the future and within the organization's usage window "
                  "(usage_window_days).")
    properties = serializers.DictField(
        required=False, allow_null=True,
        help_text="Any JSON object (at most 32 KiB, no NUL): the values meters sum, count or "
                  "group by, e.g. {\"calls\": 3, \"region\": \"eu\"}. Omitted or null: {}.")


class RejectionOut(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's place in the batch, from 0.")
    event_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Each refused field with its reasons, e.g. {\"timestamp\": [\"is more "
                  "than 5 minutes in the future\"]}.")


class IngestOut(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(help_text="Events already stored with their event_id.")
    rejected = RejectionOut(many=True, help_text="Events refused, each with its reasons.")


class EventBatchIn(serializers.Serializer):
    events = EventIn(many=True, help_text=f"1 to {services.MAX_BATCH:,} events.")


EVENT_EXAMPLE = {"event_id": "req_01HZX3K8Q2", "customer": "acme",
                 "event_name": "api_call", "timestamp": "2026-11-27T10:00:00Z",
                 "properties": {"calls": 3, "region": "eu"}}


class EventOut(serializers.ModelSerializer):
    received_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Event
        fields = ["event_id", "customer", "event_name", "timestamp", "properties",
                  "needs_adjustment", "received_at"]


class EventView(OrganizationAPIView):
    parser_classes = []  # the body is read by _json_body

    @extend_schema(
        request={"application/json": EventIn},
        responses={201: IngestOut, 200: IngestOut},
        summary="Send one usage event",
        description="Stores the event (201, `accepted`: 1), or answers 200 with `duplicates`: "
                    "1 when an event with its `event_id` is stored already: sending it again is "
                    "safe. A refused event is a 400 naming each bad field; nothing is stored. "
                    "Meters and invoices count it from then on (a late event of a closed "
                    "period is billed as a correction).",
        examples=[OpenApiExample("An API call", value=EVENT_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        event = _json_body(request)
        result = services.events_ingest(organization=self.organization, events=[event])
        if result.rejected:
            raise exceptions.ValidationError(result.rejected[0].errors)
        code = status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK
        return Response(result.to_dict(), status=code)

    @extend_schema(
        responses=EventOut(many=True), summary="The latest events received",
        description="The events stored, newest received first (cursor-paginated): to check "
                    "what your systems send.",
        parameters=[OpenApiParameter("customer", str, description="A customer's external_id."),
                    OpenApiParameter("event_name", str, description="Only this event_name.")],
    )
    def get(self, request):
        events = Event.objects.for_organization(self.organization)
        for name in ("customer", "event_name"):
            if request.query_params.get(name):
                events = events.filter(**{name: request.query_params[name]})
        return self.paginate(events, EventOut)


class EventBatchView(OrganizationAPIView):
    parser_classes = []

    @extend_schema(
        request={"application/json": EventBatchIn},
        responses=IngestOut, summary="Send up to 10,000 usage events",
        description="Each event is judged on its own: the valid ones are stored (`accepted`), "
                    "those already stored by `event_id` are counted as `duplicates`, the "
                    "refused ones come back in `rejected` with their index and reasons -- a "
                    "200 all the same. Retrying the whole batch is safe. A body that is not "
                    "`{\"events\": [...]}`, or more than 10,000 events, is a 400 and stores "
                    "nothing; a body over 16 MiB is a 413.",
        examples=[OpenApiExample("Two events", request_only=True, value={"events": [
            EVENT_EXAMPLE, {**EVENT_EXAMPLE, "event_id": "req_01HZX3K8Q3",
                            "timestamp": "2026-11-27T10:00:05Z"}]})],
    )
    def post(self, request):
        body = _json_body(request)
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise exceptions.ValidationError({"events": ["Must be a list of events."]})
        if len(events) > services.MAX_BATCH:
            raise exceptions.ValidationError(
                {"events": [f"At most {services.MAX_BATCH} events per batch; got {len(events)}."]}
            )
        result = services.events_ingest(organization=self.organization, events=events)
        return Response(result.to_dict())


class MeterSerializer(serializers.ModelSerializer):
    filters = serializers.JSONField(required=False)
    group_by = serializers.JSONField(required=False)

    class Meta:
        model = Meter
        fields = ["id", "key", "name", "description", "event_name", "aggregation",
                  "value_property", "filters", "group_by", "recurring", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []
        extra_kwargs = {"recurring": {"help_text": (
            "The quantity carries over between periods: each event adds units (negative: "
            "removes them; a removal below zero leaves 0). Only with aggregation sum (the "
            "level at the period's end) or weighted_sum (required: the level weighted by the "
            "share of the period it held, e.g. 10 seats for 10 of 30 days and 15 for 20 days "
            "= 13.333). Never with group_by.")}}


class MeterListView(OrganizationAPIView):
    @extend_schema(responses=MeterSerializer(many=True), summary="List meters",
                   description="The meters of the organization, newest first: what each "
                               "aggregates of which events.")
    def get(self, request):
        return self.paginate(Meter.objects.for_organization(self.organization), MeterSerializer)

    @extend_schema(request=MeterSerializer, responses={201: MeterSerializer},
                   summary="Create a meter",
                   description="A meter aggregates (count, sum, max, unique count...) the "
                               "events of one event_name, optionally filtered and grouped by "
                               "their properties; price items bill its quantity. Its key is "
                               "unique in the organization (400 otherwise). A recurring meter "
                               "(e.g. seats: events {\"seats\": 3} and {\"seats\": -1}) "
                               "keeps its level from period to period.",
                   examples=[OpenApiExample("Seats, time-weighted", request_only=True, value={
                       "key": "seats", "name": "Seats", "event_name": "seats_changed",
                       "aggregation": "weighted_sum", "value_property": "$.seats",
                       "recurring": True})])
    def post(self, request):
        data = MeterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        meter = services.meter_create(organization=self.organization, **data.validated_data)
        return Response(MeterSerializer(meter).data, status=status.HTTP_201_CREATED)


class MeterDetailView(OrganizationAPIView):
    @extend_schema(responses=MeterSerializer, summary="Read a meter",
                   description="One meter with its aggregation, filters and group-by.")
    def get(self, request, meter_id):
        return Response(MeterSerializer(self.get_scoped(Meter.objects, id=meter_id)).data)

    @extend_schema(request=MeterSerializer, responses=MeterSerializer,
                   summary="Change a meter (its key stays)",
                   description="Fields left out keep their value. Quantities already invoiced "
                               "do not change; drafts and later invoices use the new "
                               "definition.")
    def patch(self, request, meter_id):
        meter = self.get_scoped(Meter.objects, id=meter_id)
        data = MeterSerializer(meter, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(MeterSerializer(services.meter_update(meter=meter,
                                                             **data.validated_data)).data)


class UsageRowOut(serializers.Serializer):
    customer = serializers.CharField(allow_null=True,
                                     help_text="The customer's external_id (null: all of them).")
    group = serializers.DictField(
        allow_null=True, help_text="The group-by values of the row (with `group_by`), e.g. "
                                   "{\"region\": \"eu\"}.")
    bucket = serializers.DateTimeField(
        allow_null=True, help_text="The start of the hour or day (with `granularity`).")
    quantity = serializers.CharField(
        allow_null=True, help_text="The aggregate as a decimal string; null for an aggregate "
                                   "over no events that has no value (max, min, latest).")


class UsageOut(serializers.Serializer):
    meter = serializers.CharField(help_text="The meter's key.")
    aggregation = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    rows = UsageRowOut(many=True)


def _moment(request, name: str) -> datetime:
    value = request.query_params.get(name)
    if not value:
        raise ValidationError({name: ["Is required (ISO 8601 with a time zone)."]})
    parsed = parse_timestamp(value)
    if isinstance(parsed, str):
        raise ValidationError({name: [parsed]})
    return parsed


class UsageView(OrganizationAPIView):
    @extend_schema(
        responses=UsageOut,
        summary="Usage of a meter over [start, end): one customer, or every customer",
        description="The meter's aggregate of the events with a timestamp in [start, end): "
                    "per customer, or for one customer, optionally per group-by value and per "
                    "hour or day in `time_zone`. Reads only. An unknown meter or a bad date is "
                    "a 400 naming the parameter. A recurring meter reads every earlier event "
                    "too: its level at `end` (sum) or its time-weighted level over the window "
                    "(weighted_sum), one row per customer with a level; it has no group-by "
                    "and no buckets (400).",
        parameters=[
            OpenApiParameter("meter", str, required=True, description="The meter's key"),
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("customer", str, description="external_id; omit for all"),
            OpenApiParameter("group_by", bool, description="one row per group-by value"),
            OpenApiParameter("granularity", str, enum=["hour", "day"]),
            OpenApiParameter("time_zone", str, description="of the hour/day buckets"),
        ],
    )
    def get(self, request):
        params = request.query_params
        meter = Meter.objects.for_organization(self.organization).filter(
            key=params.get("meter", "")).first()
        if meter is None:
            raise ValidationError({"meter": [f"No meter has key {params.get('meter', '')!r}."]})
        start, end = _moment(request, "start"), _moment(request, "end")
        if end <= start:
            raise ValidationError({"end": ["Must be after start."]})
        granularity = params.get("granularity") or None
        if granularity not in (None, "hour", "day"):
            raise ValidationError({"granularity": ["Must be hour or day."]})
        time_zone = params.get("time_zone") or "UTC"
        if time_zone not in available_timezones():
            raise ValidationError({"time_zone": [f"{time_zone!r} is not an IANA time zone."]})
        group = params.get("group_by") in ("true", "1")
        if meter.recurring and (group or granularity):
            raise ValidationError({"group_by" if group else "granularity": [
                "A recurring meter has one level per customer: no group-by, no buckets."]})
        customer = params.get("customer") or None
        if customer is None and granularity is None:
            rows = selectors.usage_by_customer(
                organization=self.organization, meter=meter, start=start, end=end, group=group
            )
        else:
            rows = selectors.usage(
                organization=self.organization, meter=meter, start=start, end=end,
                customer=customer, group=group, granularity=granularity,
                time_zone=time_zone,
            )
        return Response({
            "meter": meter.key, "aggregation": meter.aggregation,
            "start": start.isoformat(), "end": end.isoformat(),
            "rows": [
                {
                    "customer": row.customer,
                    "group": row.group,
                    "bucket": row.bucket.isoformat() if row.bucket else None,
                    "quantity": None if row.quantity is None else str(row.quantity),
                }
                for row in rows
            ],
        })


# --- Data sources (pull) ----------------------------------------------------------------------


class DataSourceSerializer(serializers.ModelSerializer):
    """A source as the API shows it: never its settings (they hold credentials)."""

    class Meta:
        model = DataSource
        fields = ["id", "name", "kind", "query", "mapping", "cursor_field", "watermark",
                  "interval_minutes", "enabled", "next_run_at", "failures", "created_at",
                  "updated_at"]


class DataSourceIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=DataSource.Kind.choices)
    settings = serializers.JSONField(help_text="Connection settings; write-only, encrypted.")
    query = serializers.JSONField()
    mapping = serializers.JSONField()
    cursor_field = serializers.CharField(max_length=200)
    interval_minutes = serializers.IntegerField(required=False, default=60)


class DataSourceUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    settings = serializers.JSONField(required=False)
    query = serializers.JSONField(required=False)
    mapping = serializers.JSONField(required=False)
    cursor_field = serializers.CharField(max_length=200, required=False)
    interval_minutes = serializers.IntegerField(required=False)
    enabled = serializers.BooleanField(required=False)
    watermark = serializers.JSONField(required=False, allow_null=True)


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = ["id", "status", "started_at", "finished_at", "rows_read", "events_stored",
                  "duplicates", "rejected", "error", "cursor_before", "cursor_after"]


class DataSourceListView(OrganizationAPIView):
    @extend_schema(responses=DataSourceSerializer(many=True), summary="List data sources",
                   description="The databases and HTTP endpoints usage is pulled from, with "
                               "their schedule, watermark and failures (never their "
                               "credentials).")
    def get(self, request):
        return self.paginate(DataSource.objects.for_organization(self.organization),
                             DataSourceSerializer)

    @extend_schema(request=DataSourceIn, responses={201: DataSourceSerializer},
                   summary="Define a data source usage is pulled from",
                   description="Its connection settings are stored encrypted and never shown "
                               "again; the query's rows are mapped to usage events and pulled "
                               "every `interval_minutes` after the watermark. An address on a "
                               "private or loopback network is refused (400).")
    def post(self, request):
        data = DataSourceIn(data=request.data)
        data.is_valid(raise_exception=True)
        source = sync.data_source_create(organization=self.organization, **data.validated_data)
        return Response(DataSourceSerializer(source).data, status=status.HTTP_201_CREATED)


class DataSourceDetailView(OrganizationAPIView):
    def _source(self, source_id):
        return self.get_scoped(DataSource.objects, id=source_id)

    @extend_schema(responses=DataSourceSerializer, summary="Read a data source",
                   description="One data source, without its credentials.")
    def get(self, request, source_id):
        return Response(DataSourceSerializer(self._source(source_id)).data)

    @extend_schema(request=DataSourceUpdateIn, responses=DataSourceSerializer,
                   summary="Change a data source",
                   description="Fields left out keep their value; `settings` replaces the "
                               "stored credentials. Setting `watermark` re-reads (or skips) "
                               "rows: events already stored are duplicates, never counted "
                               "twice.")
    def patch(self, request, source_id):
        source = self._source(source_id)
        data = DataSourceUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        source = sync.data_source_update(source=source, **data.validated_data)
        return Response(DataSourceSerializer(source).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a data source",
                   description="Stops its pulls; the events it stored stay.")
    def delete(self, request, source_id):
        sync.data_source_delete(source=self._source(source_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DataSourceActionView(OrganizationAPIView):
    """``test`` a connection, ``preview`` the first rows mapped to events (nothing stored), or
    ``sync`` now."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT,
                   operation_id="data_sources_action",
                   summary="Test a data source, preview its events, or sync it now",
                   description="`test` connects and says whether it worked (`ok`, `message`); "
                               "`preview` maps the first rows to events and stores nothing; "
                               "`sync` pulls now, as the schedule would, and answers the "
                               "sync run. Another action is a 404.",
                   parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH,
                                                enum=["test", "preview", "sync"])])
    def post(self, request, source_id, action):
        source = self.get_scoped(DataSource.objects, id=source_id)
        if action == "test":
            ok, message = sync.data_source_test(source=source)
            return Response({"ok": ok, "message": message})
        if action == "preview":
            try:
                rows = sync.data_source_preview(source=source)
            except Exception as error:  # noqa: BLE001 - shown to the user, as a test would
                return Response({"ok": False, "message": str(error), "rows": []})
            return Response({"ok": True, "rows": [{"row": r, "event": e} for r, e in rows]})
        if action == "sync":
            run = sync.data_source_sync(source=source)
            return Response(SyncRunSerializer(run).data)
        raise exceptions.NotFound()


class SyncRunListView(OrganizationAPIView):
    @extend_schema(responses=SyncRunSerializer(many=True), summary="A source's sync history",
                   description="Its sync runs, newest first: rows read, events stored, "
                               "duplicates, rejected rows and the error of a failed run.")
    def get(self, request, source_id):
        source = self.get_scoped(DataSource.objects, id=source_id)
        paginator = self.pagination_class()
        paginator.ordering = ("-started_at", "-id")
        page = paginator.paginate_queryset(source.runs.all(), request, view=self)
        return paginator.get_paginated_response(SyncRunSerializer(page, many=True).data)
