"""API of outbound webhooks: endpoints, their secrets, the delivery log, replays, the event
catalogue. Every write is for owners and admins, as the other settings; reading the secret
too."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from zenskar.api.fields import BoundedDateTimeField
from zenskar.api.views import OrganizationAPIView
from zenskar.tenancy.models import MANAGE_ROLES
from zenskar.webhooks import catalogue, selectors, services
from zenskar.webhooks.delivery import message_body
from zenskar.webhooks.models import MAX_URL_LENGTH, Delivery, DeliveryAttempt, Endpoint

SIGNING = ("Messages are signed by the Standard Webhooks scheme: `webhook-id` (the same on "
           "every attempt and replay), `webhook-timestamp` (Unix seconds of the attempt) and "
           "`webhook-signature` (`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`, keyed "
           "with the base64-decoded secret after `whsec_`; one per valid secret).")


def _actor(request) -> str:
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.username
    return f"api key {access.api_key.prefix}"


# --- Serializers -------------------------------------------------------------------------------


class EndpointOut(serializers.ModelSerializer):
    pending_count = serializers.IntegerField(read_only=True,
                                             help_text="Its deliveries waiting to be sent.")
    failed_count = serializers.IntegerField(read_only=True,
                                            help_text="Its deliveries that failed for good.")

    class Meta:
        model = Endpoint
        fields = ["id", "url", "description", "event_types", "enabled", "disabled_reason",
                  "disabled_at", "failing_since", "secret_rotated_at",
                  "previous_secret_expires_at", "pending_count", "failed_count",
                  "created_at", "updated_at"]
        extra_kwargs = {"event_types": {"help_text": "The event types it receives; empty: "
                                                     "every one."}}


class EndpointCreatedOut(EndpointOut):
    secret = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="The signing secret (`whsec_...`); `GET .../secret` shows it again to owners "
                  "and admins (null when an Idempotency-Key replays the response).")

    class Meta(EndpointOut.Meta):
        fields = [*EndpointOut.Meta.fields, "secret"]


class EndpointIn(serializers.Serializer):
    """Shapes only: the rules are ``endpoint_create``'s (the dashboard's form asks the
    same)."""

    url = serializers.CharField(
        max_length=MAX_URL_LENGTH, allow_blank=True, trim_whitespace=False,
        help_text="http:// or https://, at most 2,000 characters, no credentials; its host "
                  "must resolve to public addresses.")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        help_text="At most 500 characters.")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False,
        max_length=len(catalogue.NAMES),
        help_text="Event types of GET /webhook-event-types; empty or left out: every one.")
    enabled = serializers.BooleanField(required=False, default=True)


class EndpointUpdateIn(serializers.Serializer):
    """Fields left out keep their value."""

    url = serializers.CharField(max_length=MAX_URL_LENGTH, required=False, allow_blank=True,
                                trim_whitespace=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(max_length=100),
                                        required=False, max_length=len(catalogue.NAMES))
    enabled = serializers.BooleanField(
        required=False, help_text="false stops sending (its pending deliveries wait); true "
                                  "sends again, the waiting deliveries first.")


class RotateIn(serializers.Serializer):
    previous_secret_valid_hours = serializers.IntegerField(
        required=False, min_value=0, max_value=168, default=24,
        help_text="How long the replaced secret keeps signing too (0 to 168, default 24).")


class SecretOut(serializers.Serializer):
    secret = serializers.CharField(allow_null=True, help_text="The current secret (`whsec_`).")
    previous_secret = serializers.CharField(
        allow_null=True, help_text="The secret it replaced, while it still signs; else null.")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class AttemptOut(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "trigger", "due_at", "attempted_at", "url", "request_headers",
                  "response_status", "response_excerpt", "duration_ms", "succeeded", "error"]
        extra_kwargs = {
            "request_headers": {"help_text": "The headers sent (no secret is ever sent)."},
            "response_excerpt": {"help_text": "At most the first 500 characters the endpoint "
                                              "answered."},
            "error": {"help_text": "What went wrong, in our words; empty on success."},
        }


class DeliveryOut(serializers.ModelSerializer):
    message_id = serializers.CharField(read_only=True,
                                       help_text="The `webhook-id`: the same on every attempt.")
    endpoint = serializers.UUIDField(source="endpoint_id", read_only=True)
    event = serializers.UUIDField(source="event_id", read_only=True,
                                  help_text="The event of the outbox it carries.")

    class Meta:
        model = Delivery
        fields = ["id", "endpoint", "event", "message_id", "event_type", "status",
                  "attempts_made", "next_attempt_at", "last_attempt_at", "ended_at", "replays",
                  "created_at"]


class DeliveryDetailOut(DeliveryOut):
    message = serializers.SerializerMethodField(help_text="The body posted, as sent.")
    attempts = AttemptOut(many=True, read_only=True)

    class Meta(DeliveryOut.Meta):
        fields = [*DeliveryOut.Meta.fields, "message", "attempts"]

    def get_message(self, delivery: Delivery) -> dict:
        return json.loads(message_body(delivery.event))


class ReplaySinceIn(serializers.Serializer):
    since = BoundedDateTimeField(help_text="Deliveries created since this instant (at most 30 "
                                           "days ago).")
    include_succeeded = serializers.BooleanField(
        required=False, default=False,
        help_text="Replay the succeeded deliveries too (then a second call sends them again).")


class ReplayedOut(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="How many deliveries were queued again.")


class EventTypeOut(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()


class EventTypeListOut(serializers.Serializer):
    results = EventTypeOut(many=True)


# --- Endpoints ---------------------------------------------------------------------------------


class EndpointListView(OrganizationAPIView):
    write_roles = MANAGE_ROLES
    idempotency_redact = ("secret",)

    @extend_schema(responses=EndpointOut(many=True), summary="List webhook endpoints",
                   description="The URLs events are posted to, newest first, with how many "
                               "deliveries wait and failed. Never their secrets.")
    def get(self, request):
        return self.paginate(selectors.endpoints_list(organization=self.organization),
                             EndpointOut)

    @extend_schema(request=EndpointIn, responses={201: EndpointCreatedOut},
                   summary="Add a webhook endpoint",
                   description="The endpoint receives the events written from now on that it "
                               "subscribes to (all when `event_types` is empty). The response "
                               "has its signing secret. An address that is not public, an "
                               "unknown event type or a URL with credentials is a 400. "
                               + SIGNING)
    def post(self, request):
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(organization=self.organization,
                                                    **data.validated_data)
        body = EndpointCreatedOut(self._annotated(endpoint.id)).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)

    def _annotated(self, endpoint_id: uuid.UUID) -> Endpoint:
        return selectors.endpoints_list(organization=self.organization).get(id=endpoint_id)


class EndpointDetailView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    def _endpoint(self, endpoint_id) -> Endpoint:
        return self.get_scoped(selectors.endpoints_list(organization=self.organization),
                               id=endpoint_id)

    @extend_schema(responses=EndpointOut, summary="Read a webhook endpoint",
                   description="One endpoint: its URL, event types, whether it is enabled "
                               "(and why not), its failures.")
    def get(self, request, endpoint_id):
        return Response(EndpointOut(self._endpoint(endpoint_id)).data)

    @extend_schema(request=EndpointUpdateIn, responses=EndpointOut,
                   summary="Change, disable or enable a webhook endpoint",
                   description="Fields left out keep their value. `enabled: false` stops "
                               "sending (pending deliveries wait); `true` sends again, the "
                               "waiting deliveries at once.")
    def patch(self, request, endpoint_id):
        endpoint = self._endpoint(endpoint_id)
        data = EndpointUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.endpoint_update(endpoint=endpoint, actor=_actor(request),
                                 **data.validated_data)
        return Response(EndpointOut(self._endpoint(endpoint_id)).data)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Deleted")},
                   summary="Delete a webhook endpoint",
                   description="The endpoint, its deliveries and their attempts are deleted; "
                               "nothing more is sent to it.")
    def delete(self, request, endpoint_id):
        services.endpoint_delete(endpoint=self._endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointSecretView(OrganizationAPIView):
    read_roles = MANAGE_ROLES

    @extend_schema(responses=SecretOut, summary="Reveal an endpoint's signing secret",
                   description="The current secret, and the one it replaced while that still "
                               "signs (after a rotation). " + SIGNING)
    def get(self, request, endpoint_id):
        endpoint = self.get_scoped(Endpoint.objects, id=endpoint_id)
        return Response(SecretOut(services.endpoint_secret(endpoint=endpoint)).data)


class EndpointRotateView(OrganizationAPIView):
    write_roles = MANAGE_ROLES
    idempotency_redact = ("secret", "previous_secret")

    @extend_schema(request=RotateIn, responses=SecretOut, summary="Rotate the signing secret",
                   description="A new secret signs from now on; the one it replaces signs too "
                               "for `previous_secret_valid_hours` (24 by default): messages "
                               "carry both signatures until then, so a receiver switches "
                               "without missing one. A secret replaced earlier stops at once.")
    def post(self, request, endpoint_id):
        endpoint = self.get_scoped(Endpoint.objects, id=endpoint_id)
        data = RotateIn(data=request.data)
        data.is_valid(raise_exception=True)
        hours = data.validated_data["previous_secret_valid_hours"]
        endpoint, _ = services.endpoint_secret_rotate(endpoint=endpoint,
                                                      previous_valid_for=timedelta(hours=hours))
        return Response(SecretOut(services.endpoint_secret(endpoint=endpoint)).data)


class EndpointTestView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(request=None, responses={202: DeliveryOut},
                   summary="Send a test message to an endpoint",
                   description="A `webhook.test` message for this endpoint only, sent at once "
                               "and retried like any other; its attempts are in the delivery "
                               "log. A disabled endpoint is a 400.")
    def post(self, request, endpoint_id):
        endpoint = self.get_scoped(Endpoint.objects, id=endpoint_id)
        delivery = services.endpoint_test(endpoint=endpoint)
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class EndpointReplayView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(request=ReplaySinceIn, responses={202: ReplayedOut},
                   summary="Replay an endpoint's failed deliveries since an instant",
                   description="Its deliveries created since `since` (at most 30 days ago) "
                               "that failed -- and those that succeeded, with "
                               "`include_succeeded` -- are sent again (the same `webhook-id`), "
                               "at most 1,000 per call, the oldest first. Deliveries still "
                               "pending are left alone, so calling twice for the failed ones "
                               "sends each once. A disabled endpoint is a 400.")
    def post(self, request, endpoint_id):
        endpoint = self.get_scoped(Endpoint.objects, id=endpoint_id)
        data = ReplaySinceIn(data=request.data)
        data.is_valid(raise_exception=True)
        count = services.endpoint_replay_since(endpoint=endpoint, **data.validated_data)
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


# --- The delivery log --------------------------------------------------------------------------


class DeliveryListView(OrganizationAPIView):
    @extend_schema(
        responses=DeliveryOut(many=True), summary="List webhook deliveries, newest first",
        description="One delivery per endpoint and event: its status (pending while it is "
                    "retried, then succeeded or failed), its attempts so far, when the next "
                    "one is due.",
        parameters=[
            OpenApiParameter("endpoint", uuid.UUID, description="The endpoint's id"),
            OpenApiParameter("status", str, enum=Delivery.Status.values),
            OpenApiParameter("event_type", str, enum=list(catalogue.NAMES)),
        ])
    def get(self, request):
        params = request.query_params
        endpoint = None
        if params.get("endpoint"):
            try:
                endpoint = uuid.UUID(params["endpoint"])
            except ValueError:
                raise ValidationError({"endpoint": ["An endpoint's id."]}) from None
        if params.get("status") and params["status"] not in Delivery.Status.values:
            raise ValidationError({"status": [f"One of {', '.join(Delivery.Status.values)}."]})
        if params.get("event_type") and params["event_type"] not in catalogue.BY_NAME:
            raise ValidationError({"event_type": ["An event type of GET /webhook-event-types."]})
        rows = selectors.deliveries_list(organization=self.organization, endpoint=endpoint,
                                         status=params.get("status") or None,
                                         event_type=params.get("event_type") or None)
        return self.paginate(rows, DeliveryOut)


class DeliveryDetailView(OrganizationAPIView):
    @extend_schema(responses=DeliveryDetailOut, summary="A webhook delivery with its attempts",
                   description="The message as posted and every attempt: when, the headers "
                               "sent, the status answered, at most 500 characters of the "
                               "answer, how long it took, what went wrong.")
    def get(self, request, delivery_id):
        delivery = selectors.delivery_get(organization=self.organization,
                                          delivery_id=delivery_id)
        if delivery is None:
            raise Http404("No such delivery.")
        return Response(DeliveryDetailOut(delivery).data)


class DeliveryReplayView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(request=None, responses={202: DeliveryOut},
                   summary="Replay a webhook delivery",
                   description="The same message (the same `webhook-id` and body) is sent "
                               "again at once, whatever the delivery became; its retry "
                               "schedule starts again. Each call sends it once more. A "
                               "disabled endpoint is a 400.")
    def post(self, request, delivery_id):
        delivery = self.get_scoped(Delivery.objects, id=delivery_id)
        delivery = services.delivery_replay(delivery=delivery)
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class EventTypeListView(OrganizationAPIView):
    @extend_schema(responses=EventTypeListOut, summary="The webhook event types",
                   description="Every event type an endpoint can subscribe to, with what it "
                               "means. Their payloads, with examples, are the `webhooks` of "
                               "this reference.")
    def get(self, request):
        return Response({"results": [
            {"name": event.name, "title": event.title, "description": event.description}
            for event in catalogue.EVENT_TYPES]})
