"""The gateway's webhook endpoint, a public entry point that bypasses the signed-in
organization (the one view here, named ``public_...``):

- ``public_stripe_webhook``  POST /webhooks/stripe/<organization id>

How it finds the organization: the path names it, and the organization's gateway account
proves it -- the ``Stripe-Signature`` header must verify against that account's own webhook
secret (``payments.gateways.webhooks.webhook_receive``). No session, no API key, no CSRF
token: the signature is the authentication. A forged or stale signature is a 400 and nothing
is stored; a delivery seen before is a 200 (the gateway stops retrying); processing runs under
the organization's row-level security.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.gateways import GatewayError
from payments.gateways.webhooks import webhook_receive
from zenskar.api.errors import error_body
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Organization

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def public_stripe_webhook(request, organization_id):
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return JsonResponse(error_body("not_found", "No such organization."), status=404)
    signature = request.headers.get("Stripe-Signature", "")
    with tenant_context(organization):
        try:
            stored = webhook_receive(organization=organization, payload=request.body,
                                     signature=signature)
        except GatewayError as error:
            logger.warning("Rejected a gateway webhook for %s: %s", organization.id, error)
            return JsonResponse(
                error_body("invalid_request", str(error),
                           {"Stripe-Signature": ["The signature does not verify."]}),
                status=400)
    return JsonResponse({"received": True, "duplicate": stored is None})
