"""Payment gateways behind one small interface (``base``): Stripe (``stripe``) and the manual
gateway; ``gateway_for`` picks an organization's. ``webhooks`` and ``webhook_views`` receive
what the gateway tells us."""

from __future__ import annotations

from payments.gateways.base import (
    CardDetails,
    ChargeResult,
    Gateway,
    GatewayError,
    ManualGateway,
    to_minor,
)
from payments.gateways.stripe import StripeGateway, safe_message, stripe_api_base
from payments.models import GatewayAccount

__all__ = ["CardDetails", "ChargeResult", "Gateway", "GatewayError", "ManualGateway",
           "StripeGateway", "gateway_for", "safe_message", "stripe_api_base", "to_minor"]


def gateway_for(account: GatewayAccount | None) -> Gateway:
    if account is None or account.kind == GatewayAccount.Kind.MANUAL:
        return ManualGateway()
    return StripeGateway(account)
