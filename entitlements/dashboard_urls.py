"""Dashboard pages of entitlements (the JSON API is under /api/v1/, see ``entitlements.api``),
and the endpoints of the forms its panels add to the customer, product and contract pages.
Included before the dashboard shell, whose catch-all section page would otherwise answer
/entitlements/."""

from django.urls import path

from entitlements.views import contract_panel, customer_panel, features, product_panel

app_name = "entitlements"

urlpatterns = [
    path("entitlements/", features.overview, name="overview"),
    path("entitlements/features/", features.feature_create, name="feature-create"),
    path("entitlements/features/<uuid:feature_id>/", features.feature_detail,
         name="feature-detail"),
    path("entitlements/features/<uuid:feature_id>/edit/", features.feature_edit,
         name="feature-edit"),
    path("entitlements/features/<uuid:feature_id>/archive/", features.feature_archive,
         name="feature-archive"),
    path("entitlements/features/<uuid:feature_id>/products/", features.feature_product_set,
         name="feature-product-set"),
    path("entitlements/products/<uuid:product_id>/features/", product_panel.product_feature_set,
         name="product-feature-set"),
    path("entitlements/products/<uuid:product_id>/features/<uuid:feature_id>/remove/",
         product_panel.product_feature_remove, name="product-feature-remove"),
    path("entitlements/customers/<uuid:customer_id>/lots/", customer_panel.balance_grant,
         name="balance-grant"),
    path("entitlements/contracts/<uuid:contract_id>/", contract_panel.contract_entitlements_change,
         name="contract-change"),
    path("entitlements/reconcile/", features.reconcile, name="reconcile"),
]
