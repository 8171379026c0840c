"""Dashboard pages of the metering app (the JSON API is under /api/v1/, see metering.api)."""

from django.urls import path

from metering import views

app_name = "metering"

urlpatterns = [
    path("metering/", views.overview, name="overview"),
    path("metering/tail/", views.tail, name="tail"),
    path("metering/meters/new/", views.meter_create, name="meter-create"),
    path("metering/meters/<uuid:meter_id>/", views.meter_detail, name="meter-detail"),
    path("metering/meters/<uuid:meter_id>/edit/", views.meter_edit, name="meter-edit"),
    path("metering/sources/", views.source_list, name="source-list"),
    path("metering/sources/new/", views.source_create, name="source-create"),
    path("metering/sources/<uuid:source_id>/", views.source_detail, name="source-detail"),
    path("metering/sources/<uuid:source_id>/edit/", views.source_edit, name="source-edit"),
    path("metering/sources/<uuid:source_id>/test/", views.source_test, name="source-test"),
    path("metering/sources/<uuid:source_id>/preview/", views.source_preview,
         name="source-preview"),
    path("metering/sources/<uuid:source_id>/sync/", views.source_sync, name="source-sync"),
    path("metering/sources/<uuid:source_id>/enabled/", views.source_toggle,
         name="source-toggle"),
]
