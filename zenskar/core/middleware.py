"""What every request goes through before any view: the door's bounds and the security headers.

``RequestGuardMiddleware`` refuses, before a view or a database sees them:
- a body larger than the endpoint accepts (413): ``EVENTS_MAX_BODY_BYTES`` for usage-event
  ingestion, ``API_MAX_BODY_BYTES`` for the rest of the API;
- a path or query string with a NUL character (PostgreSQL cannot store one), or longer than
  ``MAX_URL_LENGTH`` (400).
Under /api/ the answer is the API's one error body; elsewhere a short page.

``SecurityHeadersMiddleware`` puts a Content-Security-Policy on every page that has none of its
own (the dashboard and the API docs: scripts from this site only, nothing inline; the hosted
checkout sets a stricter one that admits Stripe.js), and the referrer and permissions policies.
HSTS and ``Secure`` cookies follow the ``SECURE_*`` settings (on behind HTTPS).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from zenskar.api.errors import error_body

MAX_URL_LENGTH = 4096
EVENT_PATHS = ("/api/v1/events",)

DASHBOARD_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # style attributes in pages and rendered invoices
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _refuse(request, status: int, error_type: str, message: str):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(error_type, message), status=status,
                            json_dumps_params={"separators": (",", ":")})
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def body_limit(path: str) -> int:
    if path.startswith(EVENT_PATHS):
        return settings.EVENTS_MAX_BODY_BYTES
    if path.startswith("/api/"):
        return settings.API_MAX_BODY_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, 400, "invalid_request", "Content-Length is not a number.")
        limit = body_limit(request.path)
        if length > limit:
            return _refuse(request, 413, "payload_too_large",
                           f"The body is {length:,} bytes; this endpoint accepts at most "
                           f"{limit:,}.")
        raw_query = request.META.get("QUERY_STRING", "")
        if len(request.path) + len(raw_query) > MAX_URL_LENGTH:
            return _refuse(request, 400, "invalid_request",
                           f"The URL is longer than {MAX_URL_LENGTH:,} characters.")
        if "\x00" in request.path:
            return _refuse(request, 400, "invalid_request", "The path contains a NUL character.")
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return _refuse(request, 400, "invalid_request",
                               f"The query parameter {key.replace(chr(0), '')!r} contains a NUL "
                               "character.")
        return self.get_response(request)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Content-Security-Policy"):
            response["Content-Security-Policy"] = DASHBOARD_CSP
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response
