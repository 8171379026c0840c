"""Gateway webhooks: verified, stored once per gateway event id, applied out-of-order safely.

Only events that change what we know are acted on: a payment intent that succeeded or failed
settles the Payment with that gateway reference. A late ``processing`` or ``failed`` event
never overwrites ``succeeded``; a ``failed`` payment later completed by the customer becomes
``succeeded`` (refunds have their own rows).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from payments import services
from payments.gateways import GatewayError, gateway_for
from payments.models import GatewayEvent, Payment

HANDLED = {"payment_intent.succeeded", "payment_intent.payment_failed",
           "payment_intent.processing"}


def webhook_receive(*, organization, payload: bytes, signature: str) -> GatewayEvent | None:
    """Verify and record a webhook; apply it once. Raises GatewayError on a bad signature
    (nothing stored). Returns None for a duplicate delivery."""
    account = services.gateway_account(organization=organization)
    gateway = gateway_for(account)
    event = gateway.parse_webhook(payload=payload, signature=signature)
    try:
        with transaction.atomic():
            stored = GatewayEvent.objects.create(
                organization=organization, gateway_event_id=event["id"],
                event_type=event.get("type", ""), payload=event)
            _apply(organization, event)
            stored.processed_at = timezone.now()
            stored.save(update_fields=["processed_at"])
    except IntegrityError:
        return None  # delivered before: processed once
    return stored


def _apply(organization, event: dict) -> None:
    if event.get("type") not in HANDLED:
        return
    intent = (event.get("data") or {}).get("object") or {}
    reference = intent.get("id")
    if not reference:
        return
    payment = Payment.objects.for_organization(organization).select_for_update().filter(
        reference=reference).first()
    if payment is None:
        return  # not a payment of ours
    # Money taken is final: nothing moves a payment back from succeeded. A failed payment
    # the customer completed later (same intent) does become succeeded.
    if event["type"] == "payment_intent.succeeded":
        if payment.status in (Payment.Status.PENDING, Payment.Status.FAILED):
            services._succeeded(payment, reference)
    elif event["type"] == "payment_intent.payment_failed" and \
            payment.status == Payment.Status.PENDING:
        error = intent.get("last_payment_error") or {}
        services._failed(payment, error.get("message") or "The payment failed.", reference)


__all__ = ["GatewayError", "webhook_receive"]
