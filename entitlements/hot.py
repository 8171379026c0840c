"""The check API's hot path: ``GET /api/v1/entitlements/check`` answered at the WSGI door,
in one Redis round trip, when everything it needs is already cached.

A product checks before every action, so this one endpoint carries most of the API's
traffic. Through Django and DRF a cached check costs about 0.7 ms of CPU and four Redis
round trips; here about 0.3 ms and one (``bench/entitlements.py``).
The rule that keeps it right: **the hot path answers only the plain success of a fully
cached check, and hands every other request to Django unchanged**, which answers it in
full (and fills the caches, so the next one is hot). It answers when, in one pipeline:

- the caller's address has not used up its failed key checks (the same counter the API's
  authentication reads);
- the API key's entry is in the cache (``zenskar.tenancy.services``: written when Django
  authenticates the key, deleted the moment it is revoked; its organization and id were
  learned by this process from that entry);
- the key is within its ``entitlement_checks`` rate (the same window counter the API's
  throttle counts, counted here once);
- the customer's grants are cached and still hold, and so are the meter's day counters.

Anything else -- a new key, a revoked one, a miss, a bad parameter, a throttled key, a
plain-HTTP request that must be redirected, a host not allowed -- goes to Django. The
response is byte for byte what Django would send (``tests/entitlements/test_hot_path.py``
compares them), headers included.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import orjson
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http.request import split_domain_port, validate_host
from django.utils import timezone

from entitlements import checks, counters, grants, selectors, services
from zenskar.api import throttling
from zenskar.core import ratelimit
from zenskar.core.middleware import DASHBOARD_CSP, MAX_URL_LENGTH
from zenskar.tenancy.services import api_key_cache_key, api_key_identity

logger = logging.getLogger(__name__)

PATH = "/api/v1/entitlements/check"
MAX_REF = 255
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# secret's cache key -> (key id, organization id), learned from the cache's own entries.
_identities: dict[str, tuple[str, str]] = {}


def _headers(environ: dict[str, Any], length: int) -> list[tuple[str, str]] | None:
    """Django's headers for this answer (see the module docstring), or None when Django must
    answer (a redirect to HTTPS)."""
    secure = environ.get("wsgi.url_scheme") == "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy and environ.get(proxy[0]) == proxy[1]:
        secure = True
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None
    headers = [("Content-Type", "application/json"), ("Allow", "GET, HEAD, OPTIONS"),
               ("X-Frame-Options", settings.X_FRAME_OPTIONS), ("Content-Length", str(length)),
               ("Content-Security-Policy", DASHBOARD_CSP),
               ("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin"),
               ("Permissions-Policy", "camera=(), microphone=(), geolocation=()")]
    if secure and settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append(("Strict-Transport-Security", hsts))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers


def _parameters(environ: dict[str, Any]) -> tuple[str, str, Any] | None:
    query = environ.get("QUERY_STRING", "")
    if len(PATH) + len(query) > MAX_URL_LENGTH or "%00" in query or not query.isascii():
        return None
    params = parse_qs(query, keep_blank_values=True)
    customer, feature = params.get("customer", [""]), params.get("feature", [""])
    amount = params.get("amount")
    if len(customer) != 1 or len(feature) != 1 or (amount is not None and len(amount) != 1):
        return None
    ref, key = customer[0], feature[0]
    if not ref.strip() or not key.strip() or len(ref) > MAX_REF or len(key) > MAX_REF:
        return None
    try:
        number = services.quantity(amount[0], "amount") if amount else Decimal(1)
    except ValidationError:
        return None
    return ref, key, number


def _host_allowed(environ: dict[str, Any]) -> bool:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"]
                                         if settings.DEBUG else [])
    return bool(domain) and validate_host(domain, allowed)


def _identity(client: Any, entry_key: str) -> tuple[str, str] | None:
    """(key id, organization id) of the key's cache entry, learned once per process."""
    known = _identities.get(entry_key)
    if known is not None:
        return known
    raw = client.get(entry_key)
    if raw is None:
        return None
    known = api_key_identity(pickle.loads(raw))  # noqa: S301 - our own cache entry
    _identities[entry_key] = known
    return known


def answer(environ: dict[str, Any]) -> tuple[bytes, list[tuple[str, str]]] | None:
    """The body and headers of a hot check, or None: Django answers."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    parameters = _parameters(environ)
    if scheme.lower() != "bearer" or not secret or parameters is None or \
            not _host_allowed(environ):
        return None
    ref, feature_key, amount = parameters
    rate = throttling.rate(selectors.CHECK_SCOPE)
    failures = throttling.auth_failures_key(SimpleNamespace(META=environ))
    client = counters.redis()
    entry_key = cache.make_key(api_key_cache_key(secret))
    identity = _identity(client, entry_key)
    if identity is None:
        return None
    key_id, organization_id = identity
    meter = selectors.meter_known(organization_id, feature_key)
    if meter is None:
        return None
    window = None
    with client.pipeline(transaction=False) as pipe:
        names = ["entry"]
        pipe.exists(entry_key)
        if failures:
            names.append("failures")
            pipe.get(cache.make_key(failures[0]))
        if rate is not None:
            window = cache.make_key(ratelimit.window_key(selectors.CHECK_SCOPE, key_id,
                                                         rate.period)[0])
            names += ["window_set", "count"]
            pipe.set(window, 0, ex=rate.period + 1, nx=True)
            pipe.incr(window)
        names.append("grants")
        pipe.hget(grants.cache_key(organization_id), ref)
        if meter:
            names.append("days")
            pipe.hgetall(counters.hash_key(organization_id, ref, meter))
        results = dict(zip(names, pipe.execute(), strict=True))
    body = _body(results, failures, rate, feature_key, meter, amount)
    if body is None:
        if not results["entry"]:  # revoked (or expired): Django looks the key up again
            _identities.pop(entry_key, None)
        if window is not None:
            client.decr(window)  # Django counts this request itself
        return None
    headers = _headers(environ, len(body))
    return None if headers is None else (body, headers)


def _body(results: dict[str, Any], failures: tuple[str, int, int] | None,
          rate: ratelimit.Rate | None, feature_key: str, meter: str,
          amount: Decimal) -> bytes | None:
    if not results["entry"]:
        return None
    if failures and int(results["failures"] or 0) >= failures[1]:
        return None
    if rate is not None and int(results["count"]) > rate.limit:
        return None
    found = grants.parse(results["grants"], timezone.now())
    grant = found.get(feature_key) if found is not None else None
    if grant is None:
        return None
    used = None
    if meter and grant.window_start is not None:
        if not results["days"]:
            return None
        used = counters.sum_days(results["days"], grant.window_start, grant.window_end)
    return orjson.dumps(checks.answer(grant, used=used, amount=amount))


def answering_checks(application: WSGIApp) -> WSGIApp:
    """``application`` with the hot path in front of it."""

    def hot(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "GET":
            try:
                hit = answer(environ)
            except Exception:  # noqa: BLE001 - Django answers, and reports its own errors
                logger.exception("entitlements hot path failed; Django answers")
                hit = None
            if hit is not None:
                start_response("200 OK", hit[1])
                return [hit[0]]
        return application(environ, start_response)

    return hot

