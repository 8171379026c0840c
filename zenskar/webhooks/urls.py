"""The Webhooks pages of the dashboard, under Settings (the JSON API is under /api/v1/, see
zenskar.webhooks.api). Included before the dashboard shell."""

from django.urls import path

from zenskar.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("settings/webhooks/", views.endpoint_list, name="list"),
    path("settings/webhooks/<uuid:endpoint_id>/", views.endpoint_detail, name="endpoint"),
    path("settings/webhooks/<uuid:endpoint_id>/toggle/", views.endpoint_toggle,
         name="endpoint-toggle"),
    path("settings/webhooks/<uuid:endpoint_id>/rotate/", views.endpoint_rotate,
         name="endpoint-rotate"),
    path("settings/webhooks/<uuid:endpoint_id>/reveal/", views.endpoint_reveal,
         name="endpoint-reveal"),
    path("settings/webhooks/<uuid:endpoint_id>/test/", views.endpoint_test,
         name="endpoint-test"),
    path("settings/webhooks/<uuid:endpoint_id>/replay/", views.endpoint_replay,
         name="endpoint-replay"),
    path("settings/webhooks/<uuid:endpoint_id>/delete/", views.endpoint_delete,
         name="endpoint-delete"),
    path("settings/webhooks/deliveries/<uuid:delivery_id>/", views.delivery_detail,
         name="delivery"),
    path("settings/webhooks/deliveries/<uuid:delivery_id>/replay/", views.delivery_replay,
         name="delivery-replay"),
]
