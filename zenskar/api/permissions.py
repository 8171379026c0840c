from rest_framework import permissions

from zenskar.tenancy.models import WRITE_ROLES


class OrganizationRolePermission(permissions.BasePermission):
    """Reads need one of the view's ``read_roles`` (every role unless the view says fewer);
    writes one of its ``write_roles``."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        access = getattr(request, "auth", None)
        if access is None or not hasattr(access, "organization"):
            return False
        if request.method in permissions.SAFE_METHODS:
            read_roles = getattr(view, "read_roles", None)
            return read_roles is None or access.role in read_roles
        return access.role in getattr(view, "write_roles", WRITE_ROLES)
