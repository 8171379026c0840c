"""Dashboard pages of the contracts app (the JSON API is under /api/v1/, see contracts.api)."""

from django.urls import path

from contracts import list_views, views

app_name = "contracts"

urlpatterns = [
    path("customers/", list_views.customer_list, name="customer-list"),
    path("customers/new/", views.customer_create, name="customer-create"),
    path("customers/<uuid:customer_id>/", views.customer_detail, name="customer-detail"),
    path("customers/<uuid:customer_id>/edit/", views.customer_edit, name="customer-edit"),
    path("customers/<uuid:customer_id>/delete/", views.customer_delete, name="customer-delete"),
    path("products/", views.product_list, name="product-list"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<uuid:product_id>/", views.product_detail, name="product-detail"),
    path("products/<uuid:product_id>/edit/", views.product_edit, name="product-edit"),
    path("products/<uuid:product_id>/archive/", views.product_archive, name="product-archive"),
    path("products/<uuid:product_id>/restore/", views.product_restore, name="product-restore"),
    path("contracts/", list_views.contract_list, name="contract-list"),
    path("contracts/new/", views.contract_new, name="contract-new"),
    path("contracts/<uuid:contract_id>/", views.contract_detail, name="contract-detail"),
    path("contracts/<uuid:contract_id>/edit/", views.contract_edit, name="contract-edit"),
    path("contracts/<uuid:contract_id>/amend/", views.contract_amend, name="contract-amend"),
    path("contracts/<uuid:contract_id>/activate/", views.contract_activate,
         name="contract-activate"),
    path("contracts/<uuid:contract_id>/cancel/", views.contract_cancel, name="contract-cancel"),
    path("contracts/<uuid:contract_id>/delete/", views.contract_delete, name="contract-delete"),
]
