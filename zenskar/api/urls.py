from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from contracts import api as contracts_api
from metering import api as metering_api
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
    path("customers", contracts_api.CustomerListView.as_view(), name="customers"),
    path("customers/<uuid:customer_id>", contracts_api.CustomerDetailView.as_view(),
         name="customer"),
    path("products", contracts_api.ProductListView.as_view(), name="products"),
    path("products/<uuid:product_id>", contracts_api.ProductDetailView.as_view(),
         name="product"),
    path("contracts", contracts_api.ContractListView.as_view(), name="contracts"),
    path("contracts/<uuid:contract_id>", contracts_api.ContractDetailView.as_view(),
         name="contract"),
    path("contracts/<uuid:contract_id>/activate", contracts_api.ContractActivateView.as_view(),
         name="contract-activate"),
    path("contracts/<uuid:contract_id>/cancel", contracts_api.ContractCancelView.as_view(),
         name="contract-cancel"),
    path("contracts/<uuid:contract_id>/amendments",
         contracts_api.ContractAmendmentsView.as_view(), name="contract-amendments"),
    path("contracts/<uuid:contract_id>/schedule", contracts_api.ContractScheduleView.as_view(),
         name="contract-schedule"),
    path("contracts/<uuid:contract_id>/phases", contracts_api.PhaseListView.as_view(),
         name="contract-phases"),
    path("phases/<uuid:phase_id>", contracts_api.PhaseDetailView.as_view(), name="phase"),
    path("phases/<uuid:phase_id>/items", contracts_api.PriceItemListView.as_view(),
         name="phase-items"),
    path("price-items/<uuid:item_id>", contracts_api.PriceItemDetailView.as_view(),
         name="price-item"),
    path("events", metering_api.EventView.as_view(), name="events"),
    path("events/batch", metering_api.EventBatchView.as_view(), name="events-batch"),
    path("meters", metering_api.MeterListView.as_view(), name="meters"),
    path("meters/<uuid:meter_id>", metering_api.MeterDetailView.as_view(), name="meter"),
    path("usage", metering_api.UsageView.as_view(), name="usage"),
    path("data-sources", metering_api.DataSourceListView.as_view(), name="data-sources"),
    path("data-sources/<uuid:source_id>", metering_api.DataSourceDetailView.as_view(),
         name="data-source"),
    path("data-sources/<uuid:source_id>/runs", metering_api.SyncRunListView.as_view(),
         name="data-source-runs"),
    path("data-sources/<uuid:source_id>/<str:action>", metering_api.DataSourceActionView.as_view(),
         name="data-source-action"),
]
