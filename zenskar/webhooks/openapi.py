"""The event catalogue in the API reference: one OpenAPI webhook per event type (what an
endpoint receives: the message's schema and an example, the headers that sign it), read by
drf-spectacular from ``SPECTACULAR_SETTINGS["WEBHOOKS"]``."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiRequest,
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
)

from zenskar.webhooks import catalogue, schedule

HEADERS = (
    "Posted as JSON to each endpoint that subscribes to it, with three headers "
    "(Standard Webhooks): `webhook-id` -- the message's id, the same on every retry and "
    "replay (deduplicate on it); `webhook-timestamp` -- Unix seconds of this attempt (refuse "
    "one far from your clock); `webhook-signature` -- `v1,<base64 of HMAC-SHA256(key, "
    "\"{webhook-id}.{webhook-timestamp}.{body}\")>`, the key being the base64-decoded part of "
    "the endpoint's secret after `whsec_`; after a rotation, one signature per valid secret, "
    "separated by spaces: accept the message when one verifies. Answer 2xx within 10 "
    "seconds; anything else (a redirect too) is retried after "
    + ", ".join(f"{int(d.total_seconds())} s" for d in schedule.RETRY_DELAYS)
    + " (each +-10 %), about 3 days in all.")


def _webhook(event: catalogue.EventType) -> OpenApiWebhook:
    return OpenApiWebhook(name=event.name, decorator=extend_schema(
        summary=event.title,
        description=f"{event.description}\n\n`data.id` is the id of {event.subject}.\n\n"
                    f"{HEADERS}",
        request={"application/json": OpenApiRequest(
            request=event.message_schema(),
            examples=[OpenApiExample(event.name, value=event.example_message())])},
        responses={
            200: OpenApiResponse(description="Received (any 2xx will do)."),
            410: OpenApiResponse(description="Gone: the endpoint wants no more messages; it is "
                                             "disabled."),
        },
    ))


WEBHOOKS: list[OpenApiWebhook] = [_webhook(event) for event in catalogue.EVENT_TYPES]
