import logging

from django.db import connections
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.defaults import bad_request as html_400

from zenskar.api.errors import error_body, json_404, json_500

logger = logging.getLogger(__name__)

# What a browser gets when even the 500 page cannot be drawn (a template or the static files
# storage broken): plain, and still not Django's bare "Server Error (500)".
PLAIN_500 = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Something "
             "went wrong · Zenskar</title></head><body><h1>Something went wrong on our side</h1>"
             "<p>The error has been logged. Try again in a moment.</p><p><a href=\"/\">Back to "
             "the dashboard</a></p></body></html>")


def healthz(request):
    """200 when the database and Redis answer; 503 otherwise (for load balancers and make run)."""
    from django.core.cache import cache

    checks = {}
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("healthz", "ok", 5)
        checks["redis"] = "ok" if cache.get("healthz") == "ok" else "error"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks},
                        status=200 if healthy else 503)


def bad_request(request, exception=None):
    """A request Django itself refused (a body over DATA_UPLOAD_MAX_MEMORY_SIZE read without a
    Content-Length, too many fields, a bad Host header): the API's error body under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("invalid_request", "The request could not be read (too large or "
                       "malformed)."), status=400, json_dumps_params={"separators": (",", ":")})
    return html_400(request, exception)


def _layout(request) -> str:
    """A member keeps the dashboard's shell (its navigation) on an error page; anyone else
    gets the bare frame with the brand."""
    if getattr(request, "membership", None) is not None:
        return "dashboard/base.html"
    return "errors/layout.html"


def page_not_found(request, exception=None):
    """404: the API's error body under /api/, the styled page (templates/404.html) elsewhere."""
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    return render(request, "404.html", {"layout": _layout(request),
                                        "request_path": request.path}, status=404)


def permission_denied(request, exception=None):
    """403 (a role that may not do this): the API's error body under /api/, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("permission_denied", str(exception or "")
                                       or "You do not have permission to do this."),
                            status=403, json_dumps_params={"separators": (",", ":")})
    return render(request, "403.html", {"layout": _layout(request),
                                        "reason": str(exception or "")}, status=403)


def server_error(request):
    """500: the API's error body under /api/, else templates/500.html -- rendered with no
    request and no context processor, so it touches neither the database nor the session
    (either may be what failed); a plain page if even that cannot be drawn."""
    if request.path.startswith("/api/"):
        return json_500(request)
    try:
        html = loader.render_to_string("500.html")
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        logger.exception("the 500 page could not be rendered")
        html = PLAIN_500
    return HttpResponseServerError(html)
