"""Rate limits of the API (DESIGN.md, "Bounds").

- a call made with an API key counts against that key (``api_key``);
- any other call (a dashboard session, an anonymous one) counts against its client address
  (``address``);
- a failed API-key check counts against its client address (``auth_failures``): once an
  address has used up its failures, its calls with a key are refused before the key is even
  looked up (:class:`zenskar.api.authentication.ApiKeyAuthentication`).

Past a limit: 429 with ``Retry-After`` and the one error body (type ``rate_limited``). The rates
are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, read on every request (DRF's own throttles
read them once, when their class is defined).
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from zenskar.core import ratelimit


def rate(scope: str) -> ratelimit.Rate | None:
    return ratelimit.parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(scope))


class _WindowThrottle(BaseThrottle):
    scope: str

    def identity(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self._wait = None
        limit = rate(self.scope)
        ident = self.identity(request)
        if limit is None or ident is None:
            return True
        self._wait = ratelimit.hit(self.scope, ident, limit)
        return self._wait is None

    def wait(self) -> int | None:
        return self._wait


class ApiKeyRateThrottle(_WindowThrottle):
    """``api_key``: the calls of one API key."""

    scope = "api_key"

    def identity(self, request) -> str | None:
        key = getattr(request.auth, "api_key", None)
        return str(key.id) if key is not None else None


class AddressRateThrottle(_WindowThrottle):
    """``address``: the calls of one client address made without an API key."""

    scope = "address"

    def identity(self, request) -> str | None:
        if getattr(request.auth, "api_key", None) is not None:
            return None
        return ratelimit.client_address(request)


AUTH_FAILURES = "auth_failures"


def auth_failures_exhausted(request) -> int | None:
    """Seconds to wait when the caller's address has used up its failed key checks."""
    limit = rate(AUTH_FAILURES)
    if limit is None:
        return None
    return ratelimit.exhausted(AUTH_FAILURES, ratelimit.client_address(request), limit)


def auth_failures_key(request) -> tuple[str, int, int] | None:
    """The cache key of the caller's address's failed key checks, the limit and the seconds
    to wait when it is reached (None: no limit): for an authenticator that reads it together
    with its own keys."""
    limit = rate(AUTH_FAILURES)
    if limit is None:
        return None
    key, wait = ratelimit.exhausted_key(AUTH_FAILURES, ratelimit.client_address(request), limit)
    return key, limit.limit, wait


def auth_failure_record(request) -> None:
    limit = rate(AUTH_FAILURES)
    if limit is not None:
        ratelimit.hit(AUTH_FAILURES, ratelimit.client_address(request), limit)
