"""The e-mail that tells an organization's owners and admins that one of its webhook
endpoints was disabled (``delivery``: every attempt failed for 5 days, or it answered
``410 Gone``). Sent after the commit that disabled it; writes nothing."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import MANAGE_ROLES, Membership, Organization
from zenskar.webhooks.models import Endpoint

logger = logging.getLogger(__name__)


def recipients(*, organization: Organization) -> list[str]:
    """The e-mail addresses of the organization's owners and admins."""
    return sorted({m.user.email for m in Membership.objects.for_organization(organization)
                   .filter(role__in=MANAGE_ROLES).select_related("user") if m.user.email})


def endpoint_disabled_send(*, organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    """E-mail the owners and admins that the endpoint is disabled, and why. False, and
    nothing sent, when it was deleted or enabled again since, or nobody can be told.
    Backend errors (SMTP down) raise; the caller's ``on_commit(robust=True)`` logs them (the
    endpoint's page says it too)."""
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return False
    with tenant_context(organization):
        endpoint = Endpoint.objects.for_organization(organization).filter(
            id=endpoint_id, enabled=False).first()
    to = recipients(organization=organization)
    if endpoint is None or not to:
        return False
    page = settings.PUBLIC_URL + reverse("webhooks:endpoint", args=[endpoint.id])
    EmailMessage(
        subject=f"Webhook endpoint disabled: {endpoint.url[:120]}",
        body=render_to_string("webhooks/emails/endpoint_disabled.txt", {
            "organization": organization.name, "url": endpoint.url,
            "reason": endpoint.disabled_reason, "page": page,
            "sender": "Zenskar billing"}),
        to=to,
    ).send(fail_silently=False)
    logger.info("endpoint %s disabled: %d owners and admins told", endpoint.id, len(to))
    return True
