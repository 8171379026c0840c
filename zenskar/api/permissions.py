from rest_framework import permissions

from zenskar.tenancy.models import WRITE_ROLES


class OrganizationRolePermission(permissions.BasePermission):
    """Every role may read; writes need one of the view's ``write_roles``."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        access = getattr(request, "auth", None)
        if access is None or not hasattr(access, "organization"):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.role in getattr(view, "write_roles", WRITE_ROLES)
