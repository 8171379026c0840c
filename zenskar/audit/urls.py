"""The dashboard's audit log (the JSON API is under /api/v1/audit-events, see zenskar.audit.api)."""

from django.urls import path

from zenskar.audit import views

app_name = "audit"

urlpatterns = [
    path("audit-log/", views.audit_log, name="audit-log"),
]
