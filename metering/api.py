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

from metering import selectors, services
from metering.models import Event, Meter
from metering.validation import parse_timestamp
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
        "timestamp": serializers.DateTimeField(help_text="ISO 8601 with a time zone."),
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
        events = Event.objects.filter(organization=self.organization)
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
        return self.paginate(Meter.objects.filter(organization=self.organization), MeterSerializer)

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
        meter = Meter.objects.filter(organization=self.organization,
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
