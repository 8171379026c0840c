from django.db import connections
from django.http import JsonResponse
from django.views.defaults import bad_request as html_400
from django.views.defaults import page_not_found as html_404
from django.views.defaults import server_error as html_500

from zenskar.api.errors import error_body, json_404, json_500


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


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    return html_404(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_500(request)
    return html_500(request)
