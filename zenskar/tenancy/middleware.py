"""The dashboard's current organization: chosen by the user, kept in the session."""

from __future__ import annotations

from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import MANAGE_ROLES, WRITE_ROLES
from zenskar.tenancy.selectors import membership_for, organizations_for_user

SESSION_KEY = "zenskar_organization_id"


def session_membership(request):
    """The signed-in user's membership in the session's organization (or their first one)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    membership = membership_for(user=user, organization_id=request.session.get(SESSION_KEY))
    if membership is None:
        first = organizations_for_user(user=user).first()
        membership = membership_for(user=user, organization_id=first.id) if first else None
        if membership is not None:
            request.session[SESSION_KEY] = str(membership.organization_id)
    return membership


class DashboardOrganizationMiddleware:
    """Sets ``request.organization``/``request.membership`` for dashboard pages and runs the
    page under that organization's row-level security. The API resolves its own tenant (from
    the API key or the session) in its base view, so /api/ is left alone here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = None
        request.membership = None
        if request.path.startswith("/api/"):
            return self.get_response(request)
        membership = session_membership(request)
        if membership is not None:
            request.membership = membership
            request.organization = membership.organization
        with tenant_context(request.organization):
            return self.get_response(request)


def organization_context(request):
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "organization": membership.organization,
        "membership": membership,
        "organizations": organizations_for_user(user=request.user),
        "can_write": membership.role in WRITE_ROLES,
        "can_manage": membership.role in MANAGE_ROLES,
    }
