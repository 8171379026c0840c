"""From the outbox to the tenants' endpoints: dispatching events into deliveries, and
sending the deliveries that are due.

Guarantees:
- dispatching makes one delivery per enabled endpoint that subscribes to the event and per
  event (a unique constraint: a dispatch run again, or two at once, adds nothing) and marks
  the outbox row dispatched, in one transaction per batch; only the catalogue's event types
  are sent (``zenskar.webhooks.catalogue``);
- sending takes one due delivery at a time, locked with its endpoint (``FOR UPDATE SKIP
  LOCKED``): two workers never send the same attempt, and one endpoint gets one request at a
  time; the attempt is recorded in the same transaction as the lock, so a worker that dies
  mid-request leaves the delivery due, to be sent again (receivers deduplicate by
  ``webhook-id``);
- each delivery is on its own: an endpoint that fails, hangs (10 s at most) or is refused by
  the outbound guard is recorded and retried by the schedule (``zenskar.webhooks.schedule``),
  the others go on; after a failed attempt an endpoint gets no other in the same run (its
  other due deliveries wait for the next, a minute later), so a dead endpoint costs a run
  one timeout, not one per message; a disabled endpoint's deliveries are not sent;
- an endpoint whose every attempt has failed for 5 days, or that answers ``410 Gone``, is
  disabled with the reason, and the organization's owners and admins are e-mailed.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from zenskar.tenancy.models import Organization
from zenskar.webhooks import catalogue, schedule, services, signing, transport
from zenskar.webhooks.models import Delivery, DeliveryAttempt, Endpoint, OutboxEvent

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 500
SEND_BUDGET = timedelta(seconds=50)  # a send run stops taking deliveries after this


# --- The message ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_body(event: OutboxEvent) -> bytes:
    """The bytes posted (and signed): ``{"type", "timestamp", "data"}``, ``data`` the event's
    payload with ``id``, the id of its subject, first. The same on every attempt."""
    data = {"id": event.subject_id,
            **{key: value for key, value in event.payload.items() if key != "id"}}
    message = {"type": event.event_type, "timestamp": _iso(event.created_at), "data": data}
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


# --- Dispatching ------------------------------------------------------------------------------


def outbox_dispatch(*, organization: Organization) -> int:
    """Turn the organization's undispatched outbox events into deliveries (due now) for its
    enabled endpoints that receive them; mark them dispatched. Returns how many deliveries
    were made. Safe to run twice at once (rows are taken with SKIP LOCKED, deliveries are
    unique)."""
    made = 0
    while True:
        with transaction.atomic():
            events = list(OutboxEvent.objects.for_organization(organization)
                          .filter(dispatched_at__isnull=True).order_by("created_at", "id")
                          .select_for_update(skip_locked=True)[:DISPATCH_BATCH])
            if not events:
                break
            now = timezone.now()
            endpoints = list(Endpoint.objects.for_organization(organization).filter(
                enabled=True))
            rows = [Delivery(organization=organization, endpoint=endpoint, event=event,
                             event_type=event.event_type, next_attempt_at=now)
                    for event in events if event.event_type in catalogue.BY_NAME
                    and event.event_type != catalogue.TEST_EVENT
                    for endpoint in endpoints if endpoint.receives(event.event_type)]
            Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
            OutboxEvent.objects.for_organization(organization).filter(
                id__in=[event.id for event in events]).update(dispatched_at=now)
            made += len(rows)
        if len(events) < DISPATCH_BATCH:
            break
    if made:
        services._send_after_commit(organization.id)
    return made


# --- Sending ----------------------------------------------------------------------------------


@dataclass
class SendRun:
    succeeded: int = 0
    failed: int = 0
    errors: int = 0  # deliveries that raised (a bug): left due, logged

    @property
    def attempted(self) -> int:
        return self.succeeded + self.failed


def deliveries_send_due(*, organization: Organization,
                        budget: timedelta = SEND_BUDGET) -> SendRun:
    """Send every delivery of the organization that is due (``next_attempt_at <= now``, its
    endpoint enabled and not failed in this run), the longest waiting first, one attempt
    each, until none is left or ``budget`` is spent (the next run goes on)."""
    run = SendRun()
    deadline = time.monotonic() + budget.total_seconds()
    passed: list[uuid.UUID] = []  # deliveries that raised in this run: not taken again
    failing: set[uuid.UUID] = set()  # endpoints that failed an attempt in this run
    while time.monotonic() < deadline:
        with transaction.atomic():
            delivery = (Delivery.objects.for_organization(organization)
                        .filter(status=Delivery.Status.PENDING,
                                next_attempt_at__lte=timezone.now(), endpoint__enabled=True)
                        .exclude(id__in=passed).exclude(endpoint_id__in=failing)
                        .select_related("endpoint", "event")
                        .select_for_update(of=("self", "endpoint"), skip_locked=True)
                        .order_by("next_attempt_at", "id").first())
            if delivery is None:
                break
            try:
                with transaction.atomic():
                    succeeded = _attempt(delivery)
            except Exception:  # one bad delivery stops nothing: logged, due again next run
                logger.exception("webhook delivery %s could not be attempted", delivery.id)
                passed.append(delivery.id)
                run.errors += 1
                continue
        if succeeded:
            run.succeeded += 1
        else:
            run.failed += 1
            failing.add(delivery.endpoint_id)
    return run


def _attempt(delivery: Delivery) -> bool:
    """One request for the locked ``delivery``, recorded; its next step scheduled."""
    endpoint, event = delivery.endpoint, delivery.event
    now = timezone.now()
    body = message_body(event)
    signed = signing.headers(services.signing_secrets(endpoint, now=now),
                             message_id=event.message_id, timestamp=int(now.timestamp()),
                             body=body)
    outcome = transport.post(endpoint.url, body=body, headers=signed)
    DeliveryAttempt.objects.create(
        organization_id=delivery.organization_id, delivery=delivery,
        number=delivery.attempts_made + 1,
        trigger=(DeliveryAttempt.Trigger.REPLAY if delivery.replay_pending
                 else DeliveryAttempt.Trigger.SCHEDULE),
        due_at=delivery.next_attempt_at or now, attempted_at=now, url=endpoint.url,
        request_headers={"content-type": "application/json",
                         "user-agent": transport.USER_AGENT, **signed},
        response_status=outcome.status, response_excerpt=outcome.excerpt,
        duration_ms=outcome.duration_ms, succeeded=outcome.succeeded, error=outcome.error)
    delivery.attempts_made += 1
    delivery.last_attempt_at = now
    delivery.replay_pending = False
    if outcome.succeeded:
        delivery.status = Delivery.Status.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.ended_at = now
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since", "updated_at"])
    else:
        delivery.failed_in_run += 1
        delay = schedule.retry_delay(delivery.failed_in_run, spread=random.uniform(-1, 1))
        if delay is None:
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.ended_at = now
        else:
            delivery.next_attempt_at = now + delay
        _failed(endpoint, now=now, status=outcome.status)
    delivery.save(update_fields=["attempts_made", "last_attempt_at", "replay_pending",
                                 "status", "next_attempt_at", "ended_at", "failed_in_run",
                                 "updated_at"])
    return outcome.succeeded


def _failed(endpoint: Endpoint, *, now: datetime, status: int | None) -> None:
    """Count a failed attempt against the (locked) endpoint; disable it when the rule says."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
    if status == 410:
        reason = ("The endpoint answered 410 Gone: it asked for no more messages. Enable it "
                  "again once it takes them.")
    elif schedule.should_disable(failing_for=now - endpoint.failing_since):
        since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC")
        days = schedule.DISABLE_AFTER.days
        reason = (f"Every attempt has failed since {since} (more than {days} days). Fix the "
                  "endpoint, then enable it: the deliveries that waited are sent then.")
    else:
        return
    services.endpoint_disable(endpoint=endpoint, reason=reason, notify=True)
    endpoint.refresh_from_db(fields=["enabled", "disabled_reason", "disabled_at"])
