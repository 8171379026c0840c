"""Reads of webhook endpoints and their delivery log."""

from __future__ import annotations

import uuid

from django.db.models import Count, Q, QuerySet

from zenskar.tenancy.models import Organization
from zenskar.webhooks.models import Delivery, Endpoint


def endpoints_list(*, organization: Organization) -> QuerySet[Endpoint]:
    """The endpoints, newest first, each with how many of its deliveries are pending and
    failed (``pending_count``, ``failed_count``)."""
    return Endpoint.objects.for_organization(organization).annotate(
        pending_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
        failed_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)))


def deliveries_list(*, organization: Organization, endpoint: uuid.UUID | Endpoint | None = None,
                    status: str | None = None,
                    event_type: str | None = None) -> QuerySet[Delivery]:
    """The delivery log, newest first, filtered by endpoint, status and event type."""
    rows = Delivery.objects.for_organization(organization).select_related("event", "endpoint")
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    return rows


def delivery_get(*, organization: Organization, delivery_id: uuid.UUID) -> Delivery | None:
    """One delivery with its event, endpoint and attempts (oldest first)."""
    return (Delivery.objects.for_organization(organization)
            .select_related("event", "endpoint").prefetch_related("attempts")
            .filter(id=delivery_id).first())
