"""Who is calling, and for which organization.

Each authenticator returns ``(principal, Access)``: ``request.auth`` is always an
:class:`Access` naming the organization and the role, whichever way the caller signed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from rest_framework import authentication, exceptions

from zenskar.api import throttling
from zenskar.tenancy.middleware import session_membership
from zenskar.tenancy.models import ApiKey, Organization
from zenskar.tenancy.services import (
    api_key_authenticate,
    api_key_authenticate_cached,
    api_key_cache_key,
    api_key_from_cache,
)


@dataclass(frozen=True)
class Access:
    organization: Organization
    role: str
    api_key: ApiKey | None = None
    user: object | None = None


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """``request.user`` for a call made with an API key."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self) -> str:
        return f"api key {self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        # An address that has used up its failed checks gets no further answer about any key
        # (DRF throttles run after authentication, too late to stop guessing).
        secret = secret.strip()
        wait, key = self.look_up(request, secret)
        if wait is not None:
            raise exceptions.Throttled(wait)
        if not secret:
            throttling.auth_failure_record(request)
            raise exceptions.AuthenticationFailed("The Authorization header has no API key.")
        if key is None:
            throttling.auth_failure_record(request)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        access = Access(organization=key.organization, role=key.role, api_key=key)
        return ApiKeyPrincipal(api_key=key), access

    def look_up(self, request, secret: str) -> tuple[int | None, ApiKey | None]:
        """(seconds to wait when the address used up its failed checks, else None; the key
        of ``secret`` or None)."""
        wait = throttling.auth_failures_exhausted(request)
        if wait is not None or not secret:
            return wait, None
        return None, api_key_authenticate(secret=secret)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class CachedApiKeyAuthentication(ApiKeyAuthentication):
    """The API key through the cache, for hot read paths: the address's failed checks and
    the key's cached entry in one round trip (``MGET``), the database only on a miss (see
    ``api_key_authenticate_cached``)."""

    def look_up(self, request, secret: str) -> tuple[int | None, ApiKey | None]:
        probe = throttling.auth_failures_key(request)
        entry = api_key_cache_key(secret) if secret else None
        values = cache.get_many([k for k in (probe[0] if probe else None, entry) if k])
        if probe is not None and (values.get(probe[0]) or 0) >= probe[1]:
            return probe[2], None
        if entry is None:
            return None, None
        cached = values.get(entry)
        if cached is not None:
            return None, api_key_from_cache(cached)
        return None, api_key_authenticate_cached(secret=secret)


class DashboardSessionAuthentication(authentication.SessionAuthentication):
    """A signed-in dashboard user, acting for the organization chosen in the session.
    CSRF is enforced, as for any session-authenticated write."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        membership = session_membership(request._request)
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of any organization.")
        return user, Access(organization=membership.organization, role=membership.role, user=user)
