"""A tenant as the tests drive it: an organization and an API client per role."""

from __future__ import annotations

from rest_framework.test import APIClient

from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Role


class Tenant:
    """An organization with an API client for each role."""

    def __init__(self, organization):
        self.organization = organization
        self._keys = {}

    def client(self, role: str = Role.ADMIN) -> APIClient:
        if role not in self._keys:
            _, secret = tenancy.api_key_create(
                organization=self.organization, name=f"{role} key", role=role
            )
            self._keys[role] = secret
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self._keys[role]}")
        return client

    def context(self):
        return tenant_context(self.organization)
