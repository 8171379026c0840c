"""Reads for organizations and members."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from zenskar.tenancy.models import ApiKey, Membership, Organization


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).order_by("name")


def membership_for(*, user, organization_id: uuid.UUID | str | None) -> Membership | None:
    """The user's membership of the organization, or None. ``organization_id``: an id the
    caller parsed, or the one the session keeps."""
    if not getattr(user, "is_authenticated", False) or organization_id is None:
        return None
    return (
        Membership.objects.for_organization(organization_id).select_related("organization")
        .filter(user=user)
        .first()
    )


def api_keys_list(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_organization(organization).select_related("created_by")


def memberships_list(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.for_organization(organization).select_related("user")
