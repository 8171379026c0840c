"""API for usage events (push), meters, and usage queries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from metering import selectors, services, sync
from metering.models import DataSource, Event, Meter, SyncRun
from metering.validation import parse_timestamp
from zenskar.api.fields import BoundedDateTimeField
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


EventIn = inline_serializer(
    name="Event",
    fields={
        "event_id": serializers.CharField(help_text="Your idempotency key for the event."),
        "customer": serializers.CharField(help_text="The customer's external_id."),
        "event_name": serializers.CharField(),
        "timestamp": BoundedDateTimeField(help_text="ISO 8601 with a time zone."),
        "properties": serializers.DictField(required=False),
    },
)
IngestOut = inline_serializer(
    name="IngestResult",
    fields={
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)


class EventView(OrganizationAPIView):
    parser_classes = []  # the body is read by _json_body

    @extend_schema(request=EventIn, responses={201: IngestOut, 200: IngestOut},
                   summary="Send one usage event")
    def post(self, request):
        event = _json_body(request)
        result = services.events_ingest(organization=self.organization, events=[event])
        if result.rejected:
            raise exceptions.ValidationError(result.rejected[0].errors)
        code = status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK
        return Response(result.to_dict(), status=code)

    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="The latest events received",
        parameters=[OpenApiParameter("customer", str), OpenApiParameter("event_name", str)],
    )
    def get(self, request):
        events = Event.objects.for_organization(self.organization)
        for name in ("customer", "event_name"):
            if request.query_params.get(name):
                events = events.filter(**{name: request.query_params[name]})
        return self.paginate(events, EventOut)


class EventOut(serializers.ModelSerializer):
    received_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Event
        fields = ["event_id", "customer", "event_name", "timestamp", "properties",
                  "needs_adjustment", "received_at"]


class EventBatchView(OrganizationAPIView):
    parser_classes = []

    @extend_schema(
        request=inline_serializer(name="EventBatch",
                                  fields={"events": serializers.ListField(child=EventIn)}),
        responses=IngestOut, summary="Send up to 10,000 usage events",
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
                  "value_property", "filters", "group_by", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []


class MeterListView(OrganizationAPIView):
    @extend_schema(responses=MeterSerializer(many=True), summary="List meters")
    def get(self, request):
        return self.paginate(Meter.objects.for_organization(self.organization), MeterSerializer)

    @extend_schema(request=MeterSerializer, responses={201: MeterSerializer})
    def post(self, request):
        data = MeterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        meter = services.meter_create(organization=self.organization, **data.validated_data)
        return Response(MeterSerializer(meter).data, status=status.HTTP_201_CREATED)


class MeterDetailView(OrganizationAPIView):
    @extend_schema(responses=MeterSerializer)
    def get(self, request, meter_id):
        return Response(MeterSerializer(self.get_scoped(Meter.objects, id=meter_id)).data)

    @extend_schema(request=MeterSerializer, responses=MeterSerializer,
                   summary="Change a meter (its key stays)")
    def patch(self, request, meter_id):
        meter = self.get_scoped(Meter.objects, id=meter_id)
        data = MeterSerializer(meter, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(MeterSerializer(services.meter_update(meter=meter,
                                                             **data.validated_data)).data)


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
        responses=OpenApiTypes.OBJECT,
        summary="Usage of a meter over [start, end): one customer, or every customer",
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
    @extend_schema(responses=DataSourceSerializer(many=True), summary="List data sources")
    def get(self, request):
        return self.paginate(DataSource.objects.for_organization(self.organization),
                             DataSourceSerializer)

    @extend_schema(request=DataSourceIn, responses={201: DataSourceSerializer},
                   summary="Define a data source usage is pulled from")
    def post(self, request):
        data = DataSourceIn(data=request.data)
        data.is_valid(raise_exception=True)
        source = sync.data_source_create(organization=self.organization, **data.validated_data)
        return Response(DataSourceSerializer(source).data, status=status.HTTP_201_CREATED)


class DataSourceDetailView(OrganizationAPIView):
    def _source(self, source_id):
        return self.get_scoped(DataSource.objects, id=source_id)

    @extend_schema(responses=DataSourceSerializer)
    def get(self, request, source_id):
        return Response(DataSourceSerializer(self._source(source_id)).data)

    @extend_schema(request=DataSourceUpdateIn, responses=DataSourceSerializer)
    def patch(self, request, source_id):
        source = self._source(source_id)
        data = DataSourceUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        source = sync.data_source_update(source=source, **data.validated_data)
        return Response(DataSourceSerializer(source).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, source_id):
        sync.data_source_delete(source=self._source(source_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DataSourceActionView(OrganizationAPIView):
    """``test`` a connection, ``preview`` the first rows mapped to events (nothing stored), or
    ``sync`` now."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT,
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
    @extend_schema(responses=SyncRunSerializer(many=True), summary="A source's sync history")
    def get(self, request, source_id):
        source = self.get_scoped(DataSource.objects, id=source_id)
        paginator = self.pagination_class()
        paginator.ordering = ("-started_at", "-id")
        page = paginator.paginate_queryset(source.runs.all(), request, view=self)
        return paginator.get_paginated_response(SyncRunSerializer(page, many=True).data)
