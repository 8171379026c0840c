from django.db import connections
from django.http import JsonResponse
from django.views.defaults import page_not_found as html_404
from django.views.defaults import server_error as html_500

from zenskar.api.errors import json_404, json_500


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


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    return html_404(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_500(request)
    return html_500(request)
