"""Dashboard pages of the metering app (the JSON API is under /api/v1/, see metering.api)."""

from django.urls import path

from metering.views import meters, overview, sources

app_name = "metering"

urlpatterns = [
    path("metering/", overview.overview, name="overview"),
    path("metering/tail/", overview.tail, name="tail"),
    path("metering/meters/new/", meters.meter_create, name="meter-create"),
    path("metering/meters/<uuid:meter_id>/", meters.meter_detail, name="meter-detail"),
    path("metering/meters/<uuid:meter_id>/edit/", meters.meter_edit, name="meter-edit"),
    path("metering/sources/", sources.source_list, name="source-list"),
    path("metering/sources/new/", sources.source_create, name="source-create"),
    path("metering/sources/<uuid:source_id>/", sources.source_detail, name="source-detail"),
    path("metering/sources/<uuid:source_id>/edit/", sources.source_edit, name="source-edit"),
    path("metering/sources/<uuid:source_id>/test/", sources.source_test, name="source-test"),
    path("metering/sources/<uuid:source_id>/preview/", sources.source_preview,
         name="source-preview"),
    path("metering/sources/<uuid:source_id>/sync/", sources.source_sync, name="source-sync"),
    path("metering/sources/<uuid:source_id>/enabled/", sources.source_toggle,
         name="source-toggle"),
]
