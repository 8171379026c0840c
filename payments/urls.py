"""The hosted checkout pages (customer-facing, no sign-in): reached by a signed link."""

from django.urls import path

from payments import checkout_views

app_name = "payments"

urlpatterns = [
    path("pay/<str:token>/", checkout_views.checkout_page, name="checkout"),
    path("pay/<str:token>/confirm", checkout_views.checkout_confirm, name="checkout-confirm"),
    path("pay/<str:token>/pdf", checkout_views.checkout_pdf, name="checkout-pdf"),
    path("pay/<str:token>/done", checkout_views.checkout_done, name="checkout-done"),
]
