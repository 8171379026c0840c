from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from zenskar.tenancy import api as tenancy_api

app_name = "api"

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path("organization", tenancy_api.OrganizationView.as_view(), name="organization"),
    path("api-keys", tenancy_api.ApiKeyListView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", tenancy_api.ApiKeyDetailView.as_view(), name="api-key"),
    path(
        "api-keys/<uuid:key_id>/revoke",
        tenancy_api.ApiKeyRevokeView.as_view(),
        name="api-key-revoke",
    ),
    path("members", tenancy_api.MembershipListView.as_view(), name="members"),
    path(
        "members/<uuid:membership_id>",
        tenancy_api.MembershipDetailView.as_view(),
        name="member",
    ),
]
