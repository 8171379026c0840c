"""Reads for organizations and members."""

from __future__ import annotations

from django.db.models import QuerySet

from zenskar.tenancy.models import ApiKey, Membership, Organization


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).order_by("name")


def membership_for(*, user, organization_id) -> Membership | None:
    if not getattr(user, "is_authenticated", False) or organization_id is None:
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=organization_id)
        .first()
    )


def api_keys_list(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).select_related("created_by")


def memberships_list(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user")
