"""Every write to webhook endpoints: defining them, their secrets, enabling and disabling,
and asking for messages again (a replay, a test message). Sending is ``delivery``'s.

Guarantees:
- an endpoint's URL is checked at the door: http(s), at most 2,000 characters, no
  credentials, and a host the outbound guard accepts (``zenskar.outbound.check_url``:
  public addresses only unless ``OUTBOUND_ALLOW_PRIVATE_NETWORKS``); its event types are the
  catalogue's (``zenskar.webhooks.catalogue``); a refusal is a ValidationError naming the
  field, with nothing written;
- secrets are ``whsec_`` + base64 of 32 random bytes, stored encrypted only
  (``zenskar.crypto``); a rotation keeps the secret it replaces signing too until its expiry
  (24 hours unless given), then only the new one signs;
- a replay sends the same message again -- the same ``webhook-id``, the same body -- as soon
  as the next send run, and starts its retry schedule again; replaying "since a day" takes the
  endpoint's failed deliveries of that period (and, asked for, the succeeded ones) at most
  :data:`MAX_REPLAY` at a time: asking twice for the failed ones queues each once;
- a disabled endpoint gets no new deliveries, and its pending ones wait (they are sent once
  it is enabled again); replays and tests of a disabled endpoint are refused.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from zenskar import bounds, outbound
from zenskar.crypto import decrypt_json, encrypt_json
from zenskar.tenancy.models import Organization
from zenskar.webhooks import catalogue, signing
from zenskar.webhooks.models import MAX_URL_LENGTH, Delivery, Endpoint, OutboxEvent

MAX_ENDPOINTS = 50  # per organization
MAX_DESCRIPTION = 500
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ROTATION_OVERLAP = timedelta(days=7)
REPLAY_WINDOW = timedelta(days=30)  # how far back a replay "since" may reach
MAX_REPLAY = 1000  # deliveries replayed by one call
UPDATABLE = frozenset({"url", "description", "event_types", "enabled"})


def _refuse(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


# --- Checking what a tenant gives ------------------------------------------------------------


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _refuse("url", "Required: the http:// or https:// URL to post events to.",
                      "required")
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refuse("url", f"At most {MAX_URL_LENGTH:,} characters.", "max_length")
    if bounds.text_problem(url) or any(c.isspace() for c in url):
        raise _refuse("url", "A URL has no spaces or control characters.", "invalid")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading it checks it
    except ValueError:
        raise _refuse("url", "Not a valid URL.", "invalid") from None
    if parts.scheme not in ("http", "https"):
        raise _refuse("url", "Only http:// and https:// URLs.", "invalid_scheme")
    if not parts.hostname:
        raise _refuse("url", "The URL names no host.", "invalid")
    if parts.username or parts.password:
        raise _refuse("url", "Put no credentials in the URL: verify the signature instead.",
                      "credentials_in_url")
    if parts.fragment:
        raise _refuse("url", "A URL posted to has no #fragment.", "invalid")
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as error:
        raise _refuse("url", str(error), "address_not_allowed") from None
    return url


def _description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION or bounds.text_problem(value):
        raise _refuse("description", f"Text of at most {MAX_DESCRIPTION} characters.",
                      "max_length")
    return value.strip()


def _event_types(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _refuse("event_types", "A list of event types (empty: every one).", "invalid")
    if len(value) > len(catalogue.NAMES):
        raise _refuse("event_types", f"At most {len(catalogue.NAMES)} event types.",
                      "max_length")
    unknown = catalogue.unknown(list(value))
    if unknown:
        shown = ", ".join(repr(name[:100]) for name in unknown[:5])
        raise _refuse("event_types", f"Unknown event type(s): {shown}. The event types are "
                      "listed by GET /api/v1/webhook-event-types.", "unknown_event_type")
    return list(dict.fromkeys(value))  # in order, once each


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _refuse("enabled", "true or false.", "invalid")
    return value


# --- Secrets ---------------------------------------------------------------------------------


def _secrets(endpoint: Endpoint) -> dict[str, str]:
    return dict(decrypt_json(endpoint.encrypted_secrets))


def signing_secrets(endpoint: Endpoint, *, now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the one it replaced while
    that is still valid."""
    stored = _secrets(endpoint)
    found = [stored["current"]]
    expires = endpoint.previous_secret_expires_at
    if stored.get("previous") and expires is not None and now < expires:
        found.append(stored["previous"])
    return found


def endpoint_secret(*, endpoint: Endpoint, now: datetime | None = None) -> dict[str, Any]:
    """The endpoint's secret, and the previous one while it still signs: for owners and
    admins only (the caller checks the role)."""
    now = now or timezone.now()
    stored = _secrets(endpoint)
    previous = None
    expires = endpoint.previous_secret_expires_at
    if stored.get("previous") and expires is not None and now < expires:
        previous = stored["previous"]
    return {"secret": stored["current"], "previous_secret": previous,
            "previous_secret_expires_at": expires if previous else None}


# --- Endpoints -------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(*, organization: Organization, url: Any, description: Any = "",
                    event_types: Any = None, enabled: Any = True) -> tuple[Endpoint, str]:
    """A new endpoint and its secret (shown to the caller; stored encrypted). It receives
    the events written to the outbox from now on. At most :data:`MAX_ENDPOINTS` per
    organization."""
    errors: dict[str, list[ValidationError]] = {}
    fields: dict[str, Any] = {}
    for name, check, value in (("url", _url, url), ("description", _description, description),
                               ("event_types", _event_types, event_types),
                               ("enabled", _enabled, enabled)):
        try:
            fields[name] = check(value)
        except ValidationError as error:
            errors.update(error.error_dict)
    if errors:
        raise ValidationError(errors)
    # counted under a lock of the organization's row: two creations at once cannot pass it
    Organization.objects.select_for_update().get(pk=organization.pk)
    if Endpoint.objects.for_organization(organization).count() >= MAX_ENDPOINTS:
        raise _refuse("url", f"An organization has at most {MAX_ENDPOINTS} endpoints.",
                      "too_many_endpoints")
    secret = signing.secret_generate()
    endpoint = Endpoint.objects.create(
        organization=organization, encrypted_secrets=encrypt_json({"current": secret}),
        disabled_reason="" if fields["enabled"] else "Created disabled.",
        disabled_at=None if fields["enabled"] else timezone.now(), **fields)
    return endpoint, secret


def _locked(endpoint: Endpoint) -> Endpoint:
    return Endpoint.objects.for_organization(endpoint.organization_id).select_for_update().get(
        pk=endpoint.pk)


@transaction.atomic
def endpoint_update(*, endpoint: Endpoint, actor: str = "", **fields: Any) -> Endpoint:
    """Change an endpoint's URL, description, event types or ``enabled``. Fields left out keep
    their value. A new URL forgets the failures of the old one. Disabling records who did it;
    enabling sends its waiting deliveries again from the next run."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValidationError({name: [ValidationError("Cannot be changed.", code="read_only")]
                               for name in sorted(unknown)})
    checks = {"url": _url, "description": _description, "event_types": _event_types,
              "enabled": _enabled}
    errors: dict[str, list[ValidationError]] = {}
    values: dict[str, Any] = {}
    for name, value in fields.items():
        try:
            values[name] = checks[name](value)
        except ValidationError as error:
            errors.update(error.error_dict)
    if errors:
        raise ValidationError(errors)
    endpoint = _locked(endpoint)
    enabled = values.pop("enabled", None)
    if values.get("url", endpoint.url) != endpoint.url:
        endpoint.failing_since = None  # a new address: its failures start afresh
    for name, value in values.items():
        setattr(endpoint, name, value)
    endpoint.save()
    if enabled is True and not endpoint.enabled:
        endpoint = endpoint_enable(endpoint=endpoint)
    elif enabled is False and endpoint.enabled:
        who = f" by {actor}" if actor else ""
        endpoint = endpoint_disable(endpoint=endpoint, reason=f"Disabled{who}.")
    return endpoint


@transaction.atomic
def endpoint_disable(*, endpoint: Endpoint, reason: str, notify: bool = False) -> Endpoint:
    """Stop sending to the endpoint: no new deliveries, the pending ones wait. ``notify``:
    e-mail the organization's owners and admins after commit. Idempotent (a disabled
    endpoint keeps its first reason)."""
    endpoint = _locked(endpoint)
    if not endpoint.enabled:
        return endpoint
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500] or "Disabled."
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])
    if notify:
        from zenskar.webhooks import notices

        transaction.on_commit(functools.partial(notices.endpoint_disabled_send,
                                                organization_id=endpoint.organization_id,
                                                endpoint_id=endpoint.id), robust=True)
    return endpoint


@transaction.atomic
def endpoint_enable(*, endpoint: Endpoint) -> Endpoint:
    """Send to the endpoint again: events from now on, and its deliveries that waited (due at
    once). Its failures so far are forgiven. Idempotent."""
    endpoint = _locked(endpoint)
    if endpoint.enabled:
        return endpoint
    endpoint.enabled = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at", "failing_since",
                                 "updated_at"])
    if endpoint.deliveries.filter(status=Delivery.Status.PENDING).exists():
        _send_after_commit(endpoint.organization_id)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint, its deliveries and their attempts. The outbox keeps its events."""
    _locked(endpoint).delete()


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: Endpoint, previous_valid_for: timedelta | None = None,
                           now: datetime | None = None) -> tuple[Endpoint, str]:
    """A new secret for the endpoint, returned. The one it replaces keeps signing for
    ``previous_valid_for`` (24 hours by default; 0 to stop at once; at most 7 days): every
    message carries both signatures until then. A secret replaced earlier stops at once."""
    overlap = ROTATION_OVERLAP if previous_valid_for is None else previous_valid_for
    if not timedelta(0) <= overlap <= MAX_ROTATION_OVERLAP:
        raise _refuse("previous_secret_valid_hours", "From 0 to 168 hours.", "out_of_bounds")
    now = now or timezone.now()
    endpoint = _locked(endpoint)
    current = _secrets(endpoint)["current"]
    secret = signing.secret_generate()
    endpoint.encrypted_secrets = encrypt_json({"current": secret, "previous": current})
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.secret_rotated_at = now
    endpoint.save(update_fields=["encrypted_secrets", "previous_secret_expires_at",
                                 "secret_rotated_at", "updated_at"])
    return endpoint, secret


# --- Messages again --------------------------------------------------------------------------


def _send_after_commit(organization_id: uuid.UUID) -> None:
    from zenskar.webhooks import tasks

    transaction.on_commit(
        functools.partial(tasks.send_due_deliveries.delay, str(organization_id)), robust=True)


def _check_enabled(endpoint: Endpoint) -> None:
    if not endpoint.enabled:
        raise _refuse("endpoint", "The endpoint is disabled: enable it first.",
                      "endpoint_disabled")


def _requeue(deliveries: Iterable[Delivery], now: datetime) -> int:
    count = 0
    for delivery in deliveries:
        delivery.status = Delivery.Status.PENDING
        delivery.next_attempt_at = now
        delivery.failed_in_run = 0
        delivery.replays += 1
        delivery.replay_pending = True
        delivery.ended_at = None
        delivery.save(update_fields=["status", "next_attempt_at", "failed_in_run", "replays",
                                     "replay_pending", "ended_at", "updated_at"])
        count += 1
    return count


@transaction.atomic
def delivery_replay(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """Send the delivery's message again at the next send run (the same ``webhook-id`` and
    body; a new timestamp and signature), whatever it became: its retry schedule starts
    again. Locks it (waits for an attempt in flight). Refused when the endpoint is
    disabled."""
    now = now or timezone.now()
    delivery = (Delivery.objects.for_organization(delivery.organization_id)
                .select_related("endpoint").select_for_update(of=("self",)).get(pk=delivery.pk))
    _check_enabled(delivery.endpoint)
    _requeue([delivery], now)
    _send_after_commit(delivery.organization_id)
    return delivery


@transaction.atomic
def endpoint_replay_since(*, endpoint: Endpoint, since: datetime,
                          include_succeeded: bool = False, now: datetime | None = None) -> int:
    """Replay the endpoint's deliveries created since ``since`` (at most 30 days ago) that
    failed -- and those that succeeded too, when asked -- the oldest first, at most
    :data:`MAX_REPLAY`; returns how many. Pending deliveries are left as they are (they will
    be sent anyway), so asking twice for the failed ones queues each once; with
    ``include_succeeded`` a second call sends the succeeded ones again."""
    now = now or timezone.now()
    if since < now - REPLAY_WINDOW or since > now:
        raise _refuse("since", f"Within the last {REPLAY_WINDOW.days} days.", "out_of_bounds")
    endpoint = _locked(endpoint)
    _check_enabled(endpoint)
    statuses = [Delivery.Status.FAILED]
    if include_succeeded:
        statuses.append(Delivery.Status.SUCCEEDED)
    rows = (Delivery.objects.for_organization(endpoint.organization_id)
            .filter(endpoint=endpoint, created_at__gte=since, status__in=statuses)
            .order_by("created_at", "id").select_for_update()[:MAX_REPLAY])
    count = _requeue(rows, now)
    if count:
        _send_after_commit(endpoint.organization_id)
    return count


@transaction.atomic
def endpoint_test(*, endpoint: Endpoint, now: datetime | None = None) -> Delivery:
    """A ``webhook.test`` message for this endpoint only (whatever it subscribes to), sent at
    the next send run like any delivery: its attempts are in the log."""
    now = now or timezone.now()
    endpoint = _locked(endpoint)
    _check_enabled(endpoint)
    event = OutboxEvent.objects.create(
        organization_id=endpoint.organization_id, event_type=catalogue.TEST_EVENT,
        subject_id=str(uuid.uuid4()), dispatched_at=now,
        payload={"endpoint": str(endpoint.id), "message": "A test message from Zenskar billing."})
    delivery = Delivery.objects.create(
        organization_id=endpoint.organization_id, endpoint=endpoint, event=event,
        event_type=event.event_type, next_attempt_at=now)
    _send_after_commit(endpoint.organization_id)
    return delivery
